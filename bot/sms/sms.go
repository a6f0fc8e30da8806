// Package sms counts what a text costs as SMS: its encoding and its number of
// segments. Every segment is billed and counts against the sender's rate.
//
// A text that fits the GSM 03.38 alphabet is sent in GSM-7: 160 septets in one
// segment, 153 per segment when split. One character outside it switches the
// whole text to UCS-2: 70 UTF-16 code units in one segment, 67 when split.
package sms

import (
	"strings"
	"unicode/utf8"
)

// Encoding is how a text travels over SMS.
type Encoding string

// The two encodings an SMS can use.
const (
	GSM7 Encoding = "GSM-7"
	UCS2 Encoding = "UCS-2"
)

// gsmBasic is the GSM 03.38 basic character set; each costs one septet.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension holds the characters reached through the escape code; each
// costs two septets.
const gsmExtension = "^{}\\[~]|€\f"

// Cost is what one text costs.
type Cost struct {
	Encoding Encoding
	// Units is the length in the encoding's units: septets for GSM-7,
	// UTF-16 code units for UCS-2.
	Units int
	// Segments is the number of SMS the text is sent as (0 for an empty text).
	Segments int
}

// Measure returns the encoding, length and segment count of text.
func Measure(text string) Cost {
	if text == "" {
		return Cost{Encoding: GSM7}
	}
	if septets, ok := gsmSeptets(text); ok {
		return Cost{Encoding: GSM7, Units: total(septets), Segments: pack(septets, 160, 153)}
	}
	units := ucs2Units(text)
	return Cost{Encoding: UCS2, Units: total(units), Segments: pack(units, 70, 67)}
}

// FirstNonGSM returns the first character of text outside the GSM-7 alphabet,
// the one that forces UCS-2, and false when there is none.
func FirstNonGSM(text string) (rune, bool) {
	for _, r := range text {
		if septetsOf(r) == 0 {
			return r, true
		}
	}
	return 0, false
}

// gsmSeptets returns the septet cost of each character, or false when a
// character is outside GSM-7.
func gsmSeptets(text string) ([]int, bool) {
	costs := make([]int, 0, utf8.RuneCountInString(text))
	for _, r := range text {
		n := septetsOf(r)
		if n == 0 {
			return nil, false
		}
		costs = append(costs, n)
	}
	return costs, true
}

func septetsOf(r rune) int {
	switch {
	case strings.ContainsRune(gsmBasic, r):
		return 1
	case strings.ContainsRune(gsmExtension, r):
		return 2
	}
	return 0
}

// ucs2Units returns the UTF-16 length of each character (2 for a surrogate pair).
func ucs2Units(text string) []int {
	costs := make([]int, 0, len(text))
	for _, r := range text {
		if r > 0xFFFF {
			costs = append(costs, 2)
		} else {
			costs = append(costs, 1)
		}
	}
	return costs
}

func total(costs []int) int {
	n := 0
	for _, c := range costs {
		n += c
	}
	return n
}

// pack counts segments: everything in one when it fits single, else segments
// of at most multi units, never splitting one character across two.
func pack(costs []int, single, multi int) int {
	if total(costs) <= single {
		return 1
	}
	segments, used := 1, 0
	for _, c := range costs {
		if used+c > multi {
			segments++
			used = 0
		}
		used += c
	}
	return segments
}
