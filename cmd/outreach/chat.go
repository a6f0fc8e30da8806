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
// message, and the replies are printed, a blank line between two. It is a
// simulation (see dialog.Simulated): even against the production Redis it
// records no request, subscription or outbox entry, erases nothing real,
// and its conversation expires an hour after the last line.
func chat(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("chat", stderr)
	contentDir := fs.String("content", "", "load flows/ and locales/ from this directory instead of the built-in content")
	contact := fs.String("contact", "terminal", "who you are to the bot; the same name continues the same conversation (for an hour)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := newApp(ctx, lookupEnv, *contentDir, log)
	if err != nil {
		return err
	}
	defer a.close()

	// Lines are read in their own goroutine, so that Ctrl-C ends the chat
	// even while it waits for one.
	lines := make(chan string)
	readErr := make(chan error, 1)
	go func() {
		in := bufio.NewScanner(stdin)
		in.Buffer(make([]byte, 64<<10), 64<<10)
		for in.Scan() {
			select {
			case lines <- in.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- in.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-readErr:
			return err
		case line := <-lines:
			outcome, err := a.dialog.Handle(ctx, dialog.Message{Channel: dialog.ChannelChat, Address: *contact, Text: line})
			if err != nil {
				return err
			}
			for _, r := range outcome.Replies {
				fmt.Fprintf(stdout, "%s\n\n", r.Text)
			}
		}
	}
}
