package store

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Unavailable tells whether err says that Redis could not be reached in
// time (or could not copy a turn to its replicas in time), rather than a
// fault of ours.
func Unavailable(err error) bool {
	var netErr net.Error
	var redisErr redis.Error
	switch {
	case errors.Is(err, ErrNotReplicated), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return true
	case errors.As(err, &redisErr) && !errors.Is(err, redis.Nil):
		// LOADING, BUSY, READONLY, CLUSTERDOWN, MASTERDOWN…: the server
		// answers, but cannot serve now.
		msg := redisErr.Error()
		for _, p := range []string{"LOADING", "BUSY", "READONLY", "CLUSTERDOWN", "MASTERDOWN", "TRYAGAIN", "OOM"} {
			if strings.HasPrefix(msg, p) {
				return true
			}
		}
	}
	return false
}
