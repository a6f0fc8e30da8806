package poster

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"

	"github.com/go-pdf/fpdf"
	qrcode "github.com/skip2/go-qrcode"
)

// Resolution is the poster image's density in dots per inch: an A4 page
// (210 × 297 mm) is 1654 × 2339 pixels, fine enough for print and for a
// QR code's modules to be a millimetre wide.
const Resolution = 200

// ErrTooLong means the texts do not fit on one page.
var ErrTooLong = errors.New("poster: the texts do not fit on an A4 page; shorten the poster messages")

// px is a length in millimetres, in pixels.
func px(mm float64) int { return int(math.Round(mm * Resolution / 25.4)) }

// Font sizes, in points.
const (
	sizeHeading = 36
	sizeTitle   = 15
	sizeFree    = 15
	sizeBlock   = 19
	sizeBody    = 13
	sizeStrong  = 20
	sizeNote    = 11
	sizeFooter  = 12
)

var (
	white   = color.RGBA{0xff, 0xff, 0xff, 0xff}
	ink     = color.RGBA{0x1a, 0x1a, 0x1a, 0xff}
	grey    = color.RGBA{0x55, 0x55, 0x55, 0xff}
	rule    = color.RGBA{0xcc, 0xcc, 0xcc, 0xff}
	band    = color.RGBA{0x0b, 0x3d, 0x5c, 0xff}
	warn    = color.RGBA{0xff, 0xf1, 0xc2, 0xff}
	warnRim = color.RGBA{0xc9, 0x8a, 0x00, 0xff}
	// colours are the channels' colours, dark enough to read in grey.
	colours = map[string]color.RGBA{
		ChannelSMS:      {0x0b, 0x53, 0x94, 0xff},
		ChannelWhatsApp: {0x0e, 0x7a, 0x3e, 0xff},
		ChannelTelegram: {0x17, 0x6f, 0xa6, 0xff},
		ChannelCall:     {0x6a, 0x32, 0x8a, 0xff},
	}
)

// qrSize is the side of a block's QR code with its quiet zone.
var qrSize = px(40)

// Image draws the poster on an A4 page, right to left when p.RTL().
func Image(p Poster) (*image.RGBA, error) {
	img, _, err := layout(p)
	return img, err
}

// layout draws the poster and returns where each QR code is.
func layout(p Poster) (*image.RGBA, []image.Rectangle, error) {
	ts, err := newTypesetter()
	if err != nil {
		return nil, nil, err
	}
	rtl := p.RTL()
	W, H := px(210), px(297)
	img := image.NewRGBA(image.Rect(0, 0, W, H))
	fill(img, img.Bounds(), white)
	m := px(12)
	inner := W - 2*m

	// The band: the site's name and what the service is.
	heading := ts.set(p.Heading, true, sizeHeading, rtl, inner)
	title := ts.set(p.Title, false, sizeTitle, rtl, inner)
	top := px(9)
	bandH := top + heading.height() + px(1) + title.height() + px(6)
	fill(img, image.Rect(0, 0, W, bandH), band)
	y := top
	y += ts.draw(img, heading, m, y, inner, white) + px(1)
	ts.draw(img, title, m, y, inner, white)
	y = bandH + px(5)

	// The line against scams, in a box that stands out.
	pad := px(3)
	free := ts.set(p.Free, true, sizeFree, rtl, inner-2*pad)
	box := image.Rect(m, y, W-m, y+free.height()+2*pad)
	fill(img, box, warnRim)
	fill(img, box.Inset(px(0.8)), warn)
	ts.draw(img, free, m+pad, y+pad, inner-2*pad, ink)
	y = box.Max.Y + px(5)

	// The footer, at the bottom: the blocks must end above it.
	footer := ts.set(p.Footer, false, sizeFooter, rtl, inner)
	footerY := H - m - footer.height()
	ts.draw(img, footer, m, footerY, inner, grey)

	var codes []image.Rectangle
	for i, b := range p.Blocks {
		if i > 0 {
			fill(img, image.Rect(m, y, W-m, y+2), rule)
			y += px(3)
		}
		h, code, err := drawBlock(ts, img, b, m, y, inner, rtl)
		if err != nil {
			return nil, nil, err
		}
		if !code.Empty() {
			codes = append(codes, code)
		}
		y += h + px(3)
	}
	if y > footerY {
		return nil, nil, ErrTooLong
	}
	return img, codes, nil
}

// drawBlock draws a channel's block in the box from x to x+width, its top
// at y: a bar of the channel's colour on the reading side, the QR code
// next to it, the texts beyond. It returns the height drawn and where the
// QR code is.
func drawBlock(ts *typesetter, img *image.RGBA, b Block, x, y, width int, rtl bool) (int, image.Rectangle, error) {
	c := colours[b.Channel]
	bar, gap := px(2.5), px(5)
	textX, textW := x+bar+gap, width-bar-gap
	if b.QR != "" {
		textW -= qrSize + gap
		if !rtl {
			textX += qrSize + gap
		}
	} else if rtl {
		textX = x
	}
	type piece struct {
		p   paragraph
		c   color.Color
		gap int
	}
	pieces := []piece{{ts.set(b.Title, true, sizeBlock, rtl, textW), c, px(1.5)}}
	for _, l := range b.Lines {
		switch l.Style {
		case Strong:
			pieces = append(pieces, piece{ts.set(l.Text, true, sizeStrong, false, textW), ink, px(1.5)})
		case Note:
			pieces = append(pieces, piece{ts.set(l.Text, false, sizeNote, false, textW), grey, px(1)})
		default:
			pieces = append(pieces, piece{ts.set(l.Text, false, sizeBody, rtl, textW), ink, px(1.5)})
		}
	}
	textH := 0
	for _, p := range pieces {
		textH += p.p.height() + p.gap
	}
	h := textH
	if b.QR != "" {
		h = max(h, qrSize)
	}
	barX := x
	if rtl {
		barX = x + width - bar
	}
	fill(img, image.Rect(barX, y, barX+bar, y+h), c)
	var code image.Rectangle
	if b.QR != "" {
		qx := x + bar + gap
		if rtl {
			qx = x + width - bar - gap - qrSize
		}
		code = image.Rect(qx, y, qx+qrSize, y+qrSize)
		if err := drawQR(img, b.QR, code); err != nil {
			return 0, code, err
		}
	}
	ty := y + (h-textH)/2
	for _, p := range pieces {
		// A Strong or Note line, left to right, stands on the reading side.
		p.p.right = rtl
		ty += ts.draw(img, p.p, textX, ty, textW, p.c) + p.gap
	}
	return h, code, nil
}

// drawQR draws the QR code of text in r, with its quiet zone of four
// modules, each module a whole number of pixels.
func drawQR(img *image.RGBA, text string, r image.Rectangle) error {
	q, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("poster: QR code of %q: %w", text, err)
	}
	q.DisableBorder = true
	bits := q.Bitmap()
	n := len(bits)
	const quiet = 4
	mod := r.Dx() / (n + 2*quiet)
	if mod < 1 {
		return fmt.Errorf("poster: %q is too long for a QR code of this size", text)
	}
	side := mod * (n + 2*quiet)
	o := r.Min.Add(image.Pt((r.Dx()-side)/2, (r.Dy()-side)/2))
	fill(img, image.Rect(o.X, o.Y, o.X+side, o.Y+side), white)
	o = o.Add(image.Pt(quiet*mod, quiet*mod))
	for row, line := range bits {
		for col, dark := range line {
			if dark {
				fill(img, image.Rect(o.X+col*mod, o.Y+row*mod, o.X+(col+1)*mod, o.Y+(row+1)*mod), color.Black)
			}
		}
	}
	return nil
}

// PNG draws the poster as a PNG image of an A4 page at Resolution.
func PNG(p Poster) ([]byte, error) {
	img, err := Image(p)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PDF makes the poster a PDF of one A4 page (595.28 × 841.89 points), the
// PNG image over the whole page. title is the document's title.
func PDF(p Poster, title string) ([]byte, error) {
	image, err := PNG(p)
	if err != nil {
		return nil, err
	}
	doc := fpdf.New("P", "pt", "A4", "")
	doc.SetTitle(title, true)
	doc.SetCreator("outreach poster", true)
	// The page holds one image: its few words need no compression, and
	// stay readable.
	doc.SetCompression(false)
	doc.SetMargins(0, 0, 0)
	doc.SetAutoPageBreak(false, 0)
	doc.AddPage()
	doc.RegisterImageOptionsReader("poster", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(image))
	w, h := doc.GetPageSize()
	doc.ImageOptions("poster", 0, 0, w, h, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		return nil, fmt.Errorf("poster: PDF: %w", err)
	}
	return buf.Bytes(), nil
}
