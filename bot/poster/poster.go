// Package poster makes the printable poster of a site: an A4 page that
// tells people, in one language, how to reach the service by SMS,
// WhatsApp, Telegram and a phone call, with a QR code for each link and
// the line against scams. It is pure: texts, numbers and links in, the
// bytes of a PNG or a PDF out.
//
// The page is drawn as an image (PNG) at Resolution dots per inch; the PDF
// is that image on an A4 page. Text is shaped with HarfBuzz (go-text), so
// Arabic letters join and Arabic lines run right to left; the fonts, Noto
// Sans and Noto Sans Arabic, are built in (fonts/OFL.txt).
package poster

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// The messages a poster says, in the content's locales (the block
// "poster" of locales/*.yaml). Only {{.Site}} is filled in them; numbers,
// the keyword and links are set apart on lines of their own.
const (
	MsgTitle       = "poster_title"         // under the site's name
	MsgFree        = "poster_free"          // the line against scams
	MsgSMS         = "poster_sms"           // before the keyword
	MsgSMSTo       = "poster_sms_to"        // before the number
	MsgWhatsApp    = "poster_whatsapp"      // what to do with the code, or without it
	MsgTelegram    = "poster_telegram"      // what to do with the code
	MsgCall        = "poster_call"          // the call block's title
	MsgCallIVR     = "poster_call_ivr"      // calls answered by the voice menu
	MsgCallSMSBack = "poster_call_sms_back" // calls rejected, menu sent by SMS
	MsgLanguages   = "poster_languages"     // the footer
)

// Messages are the ids of every message a poster says.
var Messages = []string{MsgTitle, MsgFree, MsgSMS, MsgSMSTo, MsgWhatsApp, MsgTelegram, MsgCall, MsgCallIVR, MsgCallSMSBack, MsgLanguages}

// Voice is how the service answers a call to the SMS number
// (OUTREACH_VOICE).
type Voice string

// The ways calls are answered.
const (
	// VoiceIVR answers with the spoken menu; the caller pays the call.
	VoiceIVR Voice = "ivr"
	// VoiceSMSBack rejects the call at once, so that it costs nothing, and
	// sends the main menu by SMS.
	VoiceSMSBack Voice = "sms-back"
	// VoiceOff leaves calls unanswered: no call on the poster.
	VoiceOff Voice = "off"
)

// Channels are the ways to reach the service that a poster shows; a
// channel left empty is left off the poster.
type Channels struct {
	// SMS is the number people text and call, E.164 ("+212600000000").
	SMS string
	// WhatsApp is the WhatsApp number, E.164, without "whatsapp:".
	WhatsApp string
	// Telegram is the bot's username, without "@".
	Telegram string
	// Voice is how calls to the SMS number are answered; empty or
	// VoiceOff leaves calls off.
	Voice Voice
}

// Empty reports whether no channel is set.
func (ch Channels) Empty() bool { return ch.SMS == "" && ch.WhatsApp == "" && ch.Telegram == "" }

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// IsNumber reports whether s is a phone number in E.164 form, such as a
// poster can show and a phone can dial.
func IsNumber(s string) bool { return e164.MatchString(s) }

// Keyword is what to text to preset a site: its id in capitals ("NADOR").
func Keyword(siteID string) string { return strings.ToUpper(siteID) }

// SMSLink is the link that opens a text message to number with the
// keyword written (RFC 5724).
func SMSLink(number, keyword string) string {
	return "sms:" + number + "?body=" + url.QueryEscape(keyword)
}

// WhatsAppLink is WhatsApp's click-to-chat link: a chat with number, the
// keyword written (https://faq.whatsapp.com/5913398998672934).
func WhatsAppLink(number, keyword string) string {
	return "https://wa.me/" + strings.TrimPrefix(number, "+") + "?text=" + url.QueryEscape(keyword)
}

// TelegramLink is the bot's deep link that starts it with the site
// (https://core.telegram.org/bots/features#deep-linking).
func TelegramLink(bot, siteID string) string {
	return "https://t.me/" + bot + "?start=" + url.QueryEscape(siteID)
}

// Style is how a line of a block is set.
type Style int

// The styles of a block's lines.
const (
	// Body is text in the poster's language.
	Body Style = iota
	// Strong is a keyword or a number: large, bold, left to right.
	Strong
	// Note is a link or a handle: small, left to right.
	Note
)

// Line is one paragraph of a block.
type Line struct {
	Text  string
	Style Style
}

// The channels a block is about; each has its colour.
const (
	ChannelSMS      = "sms"
	ChannelWhatsApp = "whatsapp"
	ChannelTelegram = "telegram"
	ChannelCall     = "call"
)

// Block is one way to reach the service: a title, lines and, for a link,
// its QR code.
type Block struct {
	Channel string
	Title   string
	Lines   []Line
	// QR is what the code holds; empty draws none.
	QR string
}

// Poster is what a poster says, in one language.
type Poster struct {
	// Heading is the site's name; Title says what the service is.
	Heading, Title string
	// Free is the line against scams.
	Free   string
	Blocks []Block
	Footer string
}

// Site is the site a poster is for.
type Site struct {
	// ID is the site's id ("nador"): the keyword and the Telegram start.
	ID string
	// Name is its name in the poster's language.
	Name string
}

// Compose writes a site's poster: text returns a message of Messages in
// the poster's language, with {{.Site}} filled.
func Compose(text func(id string) string, site Site, ch Channels) Poster {
	kw := Keyword(site.ID)
	p := Poster{Heading: site.Name, Title: text(MsgTitle), Free: text(MsgFree), Footer: text(MsgLanguages)}
	if ch.SMS != "" {
		p.Blocks = append(p.Blocks, Block{Channel: ChannelSMS, Title: "SMS", QR: SMSLink(ch.SMS, kw), Lines: []Line{
			{text(MsgSMS), Body}, {kw, Strong}, {text(MsgSMSTo), Body}, {Display(ch.SMS), Strong},
		}})
	}
	if ch.WhatsApp != "" {
		p.Blocks = append(p.Blocks, Block{Channel: ChannelWhatsApp, Title: "WhatsApp", QR: WhatsAppLink(ch.WhatsApp, kw), Lines: []Line{
			{text(MsgWhatsApp), Body}, {Display(ch.WhatsApp), Strong},
		}})
	}
	if ch.Telegram != "" {
		p.Blocks = append(p.Blocks, Block{Channel: ChannelTelegram, Title: "Telegram", QR: TelegramLink(ch.Telegram, site.ID), Lines: []Line{
			{text(MsgTelegram), Body}, {"@" + ch.Telegram, Strong}, {strings.TrimPrefix(TelegramLink(ch.Telegram, site.ID), "https://"), Note},
		}})
	}
	if ch.SMS != "" && (ch.Voice == VoiceIVR || ch.Voice == VoiceSMSBack) {
		how := text(MsgCallIVR)
		if ch.Voice == VoiceSMSBack {
			how = text(MsgCallSMSBack)
		}
		p.Blocks = append(p.Blocks, Block{Channel: ChannelCall, Title: text(MsgCall), Lines: []Line{
			{how, Body}, {Display(ch.SMS), Strong},
		}})
	}
	return p
}

// Display writes a number the way people read it: Moroccan numbers in
// pairs ("+212 6 12 34 56 78"), others as they are.
func Display(number string) string {
	rest, ok := strings.CutPrefix(number, "+212")
	if !ok || len(rest) != 9 {
		return number
	}
	out := "+212 " + rest[:1]
	for i := 1; i < len(rest); i += 2 {
		out += " " + rest[i:i+2]
	}
	return out
}

// RTL reports whether the poster reads right to left: whether its title's
// first letter is of a script written right to left.
func (p Poster) RTL() bool {
	for _, r := range p.Title + p.Heading {
		switch {
		case unicode.In(r, unicode.Arabic, unicode.Hebrew, unicode.Syriac, unicode.Thaana, unicode.Nko):
			return true
		case unicode.IsLetter(r):
			return false
		}
	}
	return false
}
