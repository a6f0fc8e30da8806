package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/outreach-org/outreach/bot/server"
)

// serve runs the HTTP service until ctx is cancelled, then stops gracefully:
// it stops accepting, finishes the requests in hand, then closes Redis.
func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	contentDir := fs.String("content", "", "load flows/ and locales/ from this directory instead of the built-in content")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	a, err := newApp(ctx, getenv, *contentDir, log)
	if err != nil {
		return err
	}
	defer a.close()

	srv := server.New(a.dialog, a.store, a.metrics, log, a.cfg.AdminToken)
	httpServer := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("OUTREACH_ADDR: %w", err)
	}
	log.Info("listening", "component", "serve", "addr", ln.Addr().String(), "admin_api", a.cfg.AdminToken != "")

	errc := make(chan error, 1)
	go func() { errc <- httpServer.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "component", "serve")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
