package seal

import (
	"bytes"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	b, err := New(key)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := b.Seal("+212612345678"), b.Seal("+212612345678")
	if s1 == s2 {
		t.Error("two seals of one text are equal: the nonce is not fresh")
	}
	if strings.Contains(s1, "612345678") {
		t.Error("sealed text shows the number")
	}
	if got, err := b.Open(s1); err != nil || got != "+212612345678" {
		t.Errorf("Open = %q, %v", got, err)
	}
	other, _ := New(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(s1); err != ErrOpen {
		t.Errorf("Open with another key: %v, want ErrOpen", err)
	}
	if _, err := b.Open(s1[:len(s1)-2] + "AA"); err != ErrOpen {
		t.Errorf("Open of altered data: %v, want ErrOpen", err)
	}
	if _, err := New(key[:16]); err == nil {
		t.Error("a 16-byte key was accepted")
	}
	if bytes.Equal(Derive(key, "a"), Derive(key, "b")) {
		t.Error("two purposes derived one key")
	}
}
