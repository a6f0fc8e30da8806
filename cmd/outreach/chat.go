package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/outreach-org/outreach/bot/dialog"
)

// chat is a conversation with the bot in the terminal: each line read is a
// message, and the replies are printed, a blank line between two.
func chat(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("chat", stderr)
	contentDir := fs.String("content", "", "load flows/ and locales/ from this directory instead of the built-in content")
	contact := fs.String("contact", "terminal", "who you are to the bot; the same name continues the same conversation")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(ctx, getenv, *contentDir, log, stderr)
	if err != nil {
		return err
	}
	defer a.close()

	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64<<10), 64<<10)
	for in.Scan() {
		if ctx.Err() != nil {
			return nil
		}
		replies, err := a.dialog.Handle(ctx, dialog.Message{Channel: "chat", Address: *contact, Text: in.Text()})
		if err != nil {
			return err
		}
		for _, r := range replies {
			fmt.Fprintf(stdout, "%s\n\n", r.Text)
		}
	}
	return in.Err()
}
