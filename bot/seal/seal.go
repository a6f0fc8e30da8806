// Package seal encrypts short personal data at rest — phone numbers and chat
// ids — with AES-256-GCM, and derives the keys the service needs from one
// master key (OUTREACH_DATA_KEY).
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Derive returns a 32-byte key for one purpose from the master key, so that
// one secret serves hashing and encryption without reusing a key.
func Derive(master []byte, purpose string) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("outreach/" + purpose))
	return m.Sum(nil)
}

// Box seals and opens texts with one key.
type Box struct {
	aead cipher.AEAD
}

// New returns a Box for a 32-byte key.
func New(key []byte) (*Box, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("seal: key is %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// Seal encrypts text with a fresh random nonce; the result is printable.
func (b *Box) Seal(text string) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(text)+b.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("seal: no randomness: " + err.Error())
	}
	return base64.RawStdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(text), nil))
}

// ErrOpen means a sealed text could not be opened: it was changed, or sealed
// with another key.
var ErrOpen = errors.New("seal: cannot open: wrong key or altered data")

// Open decrypts a text made by Seal.
func (b *Box) Open(sealed string) (string, error) {
	data, err := base64.RawStdEncoding.DecodeString(sealed)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", ErrOpen
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, data[:n], data[n:], nil)
	if err != nil {
		return "", ErrOpen
	}
	return string(plain), nil
}
