// Package dialog runs one conversation turn against the store: it loads the
// contact's state, runs the engine, and saves the new state atomically, so
// that two messages from one person are handled one after the other.
// Every channel calls it.
package dialog

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outreach-org/outreach/bot/content"
	"github.com/outreach-org/outreach/bot/engine"
	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/store"
)

// Message is one message from a person on a channel.
type Message struct {
	// Channel is where it came from: "sms", "whatsapp", "telegram", "simulate", "chat".
	Channel string
	// Address is the person's address on the channel: phone number, chat id.
	// It is used only to make the contact key; it is never stored or logged.
	Address string
	Text    string
}

// Options tunes the service.
type Options struct {
	// Location is where dates and times are shown.
	Location *time.Location
	// IdleAfter ends a conversation after this long a silence.
	IdleAfter time.Duration
	// MaxReplies bounds the replies of one step.
	MaxReplies int
	// DataMaxAge is how old the snapshot of sites and distributions may get
	// before it is read again.
	DataMaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service handles messages for every channel.
type Service struct {
	store   *store.Store
	content atomic.Pointer[content.Content]
	opts    Options
	log     *slog.Logger
	metrics *metrics.Metrics

	dataMu sync.Mutex
	data   atomic.Pointer[snapshot]
}

type snapshot struct {
	data engine.Data
	at   time.Time
}

// New returns a Service over a store and a content version.
func New(st *store.Store, c *content.Content, m *metrics.Metrics, log *slog.Logger, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	if opts.DataMaxAge <= 0 {
		opts.DataMaxAge = 2 * time.Second
	}
	s := &Service{store: st, opts: opts, log: log.With("component", "dialog"), metrics: m}
	s.content.Store(c)
	return s
}

// Content returns the content in use.
func (s *Service) Content() *content.Content { return s.content.Load() }

// SetContent swaps in a new content version for the next messages.
func (s *Service) SetContent(c *content.Content) { s.content.Store(c) }

// maxAttempts bounds the retries of one message when the same contact writes
// many times at once; each round lets at least one of them through.
const maxAttempts = 64

// Handle handles one message and returns the replies. The new state is saved
// before Handle returns; on error nothing was saved.
func (s *Service) Handle(ctx context.Context, msg Message) ([]engine.Reply, error) {
	began := time.Now()
	defer func() { s.metrics.Step.Observe(time.Since(began).Seconds()) }()

	contact := s.store.ContactKey(msg.Channel, msg.Address)
	data, err := s.snapshot(ctx)
	if err != nil {
		s.metrics.Errors.WithLabelValues("data").Inc()
		return nil, err
	}
	for attempt := 0; attempt < maxAttempts; attempt++ {
		stored, err := s.store.LoadState(ctx, contact)
		if err != nil {
			s.metrics.Errors.WithLabelValues("load").Inc()
			return nil, err
		}
		var st engine.State
		if len(stored.Data) > 0 {
			if err := json.Unmarshal(stored.Data, &st); err != nil {
				// A state that cannot be read is started afresh rather than
				// leaving the person without an answer.
				s.log.Error("unreadable contact state, starting afresh", "contact", contact, "err", err)
				st = engine.State{}
			}
		}
		eng := engine.Engine{Content: s.Content(), Location: s.opts.Location, IdleAfter: s.opts.IdleAfter, MaxReplies: s.opts.MaxReplies}
		res := eng.Step(st, engine.Input{Text: msg.Text, Now: s.opts.Now()}, data)
		if res.Guarded {
			s.metrics.Guarded.Inc()
			s.log.Warn("loop guard stopped a step", "contact", contact, "node", st.Node)
		}
		next, err := json.Marshal(res.State)
		if err != nil {
			return nil, err
		}
		err = s.store.SaveState(ctx, contact, stored.Version, next)
		if errors.Is(err, store.ErrConflict) {
			s.metrics.Conflicts.Inc()
			if err := sleep(ctx, time.Duration(rand.IntN(1+attempt*500))*time.Microsecond); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			s.metrics.Errors.WithLabelValues("save").Inc()
			return nil, err
		}
		if err := s.record(ctx, contact, msg.Channel, res.Effects); err != nil {
			s.metrics.Errors.WithLabelValues("effects").Inc()
			s.log.Error("recording effects", "contact", contact, "err", err)
		}
		s.metrics.Inbound.WithLabelValues(msg.Channel).Inc()
		s.metrics.Replies.WithLabelValues(msg.Channel).Add(float64(len(res.Replies)))
		return res.Replies, nil
	}
	s.metrics.Errors.WithLabelValues("contention").Inc()
	return nil, fmt.Errorf("dialog: contact state kept changing: gave up after %d attempts", maxAttempts)
}

// record writes what a step changed beyond the contact's state.
func (s *Service) record(ctx context.Context, contact, channel string, effects []engine.Effect) error {
	var errs []error
	for _, e := range effects {
		switch e.Kind {
		case engine.EffectSubscribe:
			errs = append(errs, s.store.Subscribe(ctx, contact, e.Sites...))
		case engine.EffectUnsubscribe:
			errs = append(errs, s.store.Unsubscribe(ctx, contact, e.Sites...))
		case engine.EffectHandover:
			site := ""
			if len(e.Sites) > 0 {
				site = e.Sites[0]
			}
			errs = append(errs, s.store.AddRequest(ctx, store.Request{
				ID: newID(), Contact: contact, Channel: channel, Lang: e.Lang, Site: site,
				Text: e.Text, CreatedAt: s.opts.Now().UTC(), Open: true,
			}))
			s.log.Info("request to talk to a person recorded", "contact", contact, "channel", channel)
		}
	}
	return errors.Join(errs...)
}

// snapshot returns the sites and distributions, read again when older than
// DataMaxAge; if reading fails, a stale snapshot is used.
func (s *Service) snapshot(ctx context.Context) (engine.Data, error) {
	now := time.Now()
	if snap := s.data.Load(); snap != nil && now.Sub(snap.at) < s.opts.DataMaxAge {
		return snap.data, nil
	}
	s.dataMu.Lock()
	defer s.dataMu.Unlock()
	if snap := s.data.Load(); snap != nil && now.Sub(snap.at) < s.opts.DataMaxAge {
		return snap.data, nil
	}
	data, err := s.readData(ctx)
	if err != nil {
		if snap := s.data.Load(); snap != nil {
			s.log.Warn("reading sites and distributions failed; using the previous snapshot", "err", err)
			return snap.data, nil
		}
		return engine.Data{}, err
	}
	s.data.Store(&snapshot{data: data, at: now})
	return data, nil
}

// Refresh forgets the snapshot of sites and distributions, so that the next
// message reads them again.
func (s *Service) Refresh() { s.data.Store(nil) }

func (s *Service) readData(ctx context.Context) (engine.Data, error) {
	sites, err := s.store.Sites(ctx)
	if err != nil {
		return engine.Data{}, err
	}
	if sites == nil {
		for _, id := range s.Content().Flow.Sites {
			sites = append(sites, engine.Site{ID: id})
		}
	}
	dists, err := s.store.Distributions(ctx)
	if err != nil {
		return engine.Data{}, err
	}
	return engine.Data{Sites: sites, Distributions: dists}, nil
}

func newID() string {
	b := make([]byte, 8)
	if _, err := crand.Read(b); err != nil {
		return fmt.Sprintf("%x", time.Now().UnixNano())
	}
	return hex.EncodeToString(b)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
