package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"

	"github.com/outreach-org/outreach/bot/seal"
)

// LegacyContactKey is a contact key as made before the keyring: straight
// from the data key.
func LegacyContactKey(dataKey []byte, channel, address string) string {
	m := hmac.New(sha256.New, seal.Derive(dataKey, "contact-hash"))
	m.Write([]byte(channel))
	m.Write([]byte{0})
	m.Write([]byte(address))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// LegacySeal seals as the former version did: straight from the data key.
func LegacySeal(dataKey []byte, text string) string {
	box, _ := seal.New(seal.Derive(dataKey, "address-seal"))
	return box.Seal(text)
}
