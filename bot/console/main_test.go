package console

import (
	"os"
	"testing"

	"github.com/outreach-org/outreach/bot/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }
