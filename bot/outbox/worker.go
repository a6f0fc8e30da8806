package outbox

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/metrics"
	"github.com/outreach-org/outreach/bot/stats"
	"github.com/outreach-org/outreach/bot/tally"
)

// Message is one message for a Sender.
type Message struct {
	// ID is the outbox entry's id.
	ID string
	// To is the address in clear: a phone number or a chat id.
	To   string
	Text string
	// Choices are shown as buttons where the channel has them.
	Choices []Choice
	// Callback is a callback query to answer instead of sending text.
	Callback string
	// Template is a WhatsApp content template to send instead of Text.
	Template     string
	TemplateVars map[string]string
}

// Sender sends messages on one channel. It returns the provider's id for the
// message ("" if it has none), or a *SendError saying what a failure means.
type Sender interface {
	Send(ctx context.Context, m Message) (providerID string, err error)
}

// Channel is how the outbox uses one channel.
type Channel struct {
	Sender Sender
	// MaxLen is the longest text one message may carry, in characters, or
	// in the Sender's units when it is a UnitCounter (Telegram: UTF-16).
	MaxLen int
	// Cost is what a text costs against the rate (SMS: its segments); nil: 1.
	Cost func(text string) float64
	// Gate is the channel's overall rate.
	Gate *Gate
	// PerChat, when set, limits each address (Telegram: about 1 a second).
	PerChat *Gate
	// perChat holds the per-address gates made like PerChat.
	perChat *gates
}

// Contacts is what the worker needs to know and change about people.
type Contacts interface {
	// Suppressed returns why a contact must not be sent to ("" if it can be):
	// an address known undeliverable, or, for bulk, an opt-out.
	Suppressed(ctx context.Context, contact string, bulk bool) (string, error)
	// MarkOptedOut records that the person stopped messages at the provider.
	MarkOptedOut(ctx context.Context, contact string) error
	// MarkBlocked records that the person blocked the bot.
	MarkBlocked(ctx context.Context, contact string) error
	// MarkUndeliverable records that the address cannot receive.
	MarkUndeliverable(ctx context.Context, contact string) error
	// MarkNeedsTemplate records that WhatsApp refused free text to the
	// person (outside the 24-hour window).
	MarkNeedsTemplate(ctx context.Context, contact string) error
}

// Opener opens sealed addresses.
type Opener interface {
	Open(sealed string) (string, error)
}

// Options tunes a worker.
type Options struct {
	// Consumer names this worker in the consumer group; unique per process.
	Consumer string
	// ReplyWorkers and BulkWorkers are the goroutines sending each
	// priority's entries, whichever shard they come from.
	ReplyWorkers, BulkWorkers int
	// ClaimIdle is how long an entry may stay unacknowledged before another
	// worker takes it over (its worker is taken for dead).
	ClaimIdle time.Duration
	// MaxTries bounds the attempts at one message before it goes to the
	// dead-letter list.
	MaxTries int
	// Block is how long one read waits for new entries (and so how long a
	// reader may take to see the worker stop).
	Block time.Duration
	// SendTimeout bounds one call to a provider.
	SendTimeout time.Duration
	// Backoff is the wait before retry number tries (1, 2, …).
	Backoff func(tries int) time.Duration
	// Quiet reports the hours when bulk traffic waits; nil: never.
	Quiet func(time.Time) bool
	// Clock is the time the worker keeps: when a retry is due, when a
	// notice has expired, the quiet hours, the time of an attempt and of a
	// dead letter. Nil is the system clock; a test gives its own.
	Clock Clock
}

func (o *Options) defaults() {
	if o.Consumer == "" {
		host, _ := os.Hostname()
		o.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), NewID()[:6])
	}
	if o.ReplyWorkers <= 0 {
		o.ReplyWorkers = 4
	}
	if o.BulkWorkers <= 0 {
		o.BulkWorkers = 2
	}
	if o.ClaimIdle <= 0 {
		o.ClaimIdle = 30 * time.Second
	}
	if o.MaxTries <= 0 {
		o.MaxTries = 8
	}
	if o.Block <= 0 {
		o.Block = time.Second
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 15 * time.Second
	}
	if o.Clock == nil {
		o.Clock = systemClock{}
	}
	if o.Backoff == nil {
		o.Backoff = Backoff
	}
}

// Backoff is the default wait before a retry: exponential from 2 seconds,
// capped at 10 minutes, with jitter.
func Backoff(tries int) time.Duration {
	d := 2 * time.Second << min(tries-1, 9)
	d = min(d, 10*time.Minute)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// maxDeliveries bounds how often one entry is taken over after its worker
// died: an entry that kills its workers goes to the dead-letter list.
const maxDeliveries = 5

// Worker sends what the outbox holds.
type Worker struct {
	o        *Outbox
	channels map[string]*Channel
	contacts Contacts
	opener   Opener
	metrics  *metrics.Metrics
	log      *slog.Logger
	opts     Options
	stripes  [256]sync.Mutex

	// inHand holds the entries this worker read or claimed and has not
	// finished with (handling them, or waiting for a free sender): their
	// idle time is refreshed, so that no worker takes them over.
	mu     sync.Mutex
	inHand map[held]struct{}
}

// held names a stream entry: its ids are unique within its stream only.
type held struct{ stream, id string }

// item is an entry in hand, for a sender to handle; fresh when read new
// rather than taken over from another worker.
type item struct {
	stream string
	xm     redis.XMessage
	fresh  bool
}

// NewWorker returns a worker sending on channels (by channel name: "sms",
// "whatsapp", "telegram"). Entries of a channel not listed go to the
// dead-letter list.
func (o *Outbox) NewWorker(channels map[string]*Channel, contacts Contacts, opener Opener, m *metrics.Metrics, log *slog.Logger, opts Options) *Worker {
	opts.defaults()
	for name, ch := range channels {
		c := *ch
		if c.PerChat != nil {
			c.perChat = newGates(c.PerChat)
		}
		channels[name] = &c
	}
	return &Worker{o: o, channels: channels, contacts: contacts, opener: opener, metrics: m, log: log.With("component", "outbox"), opts: opts, inHand: map[held]struct{}{}}
}

// Run sends until ctx ends, then finishes the sends in hand and returns.
//
// Each priority has its senders (ReplyWorkers, BulkWorkers), fed by
// readers of that priority's streams, one a shard: replies never wait
// behind bulk traffic, and every shard is read. On one node a single
// reader names all the shards' streams in one blocking XREADGROUP; on a
// Cluster, where a command names keys of one slot, each shard's stream
// has a blocking reader of its own: 2×Shards connections held by reads,
// from a client of their own so that they never keep a connection from
// the rest of the service (readClient).
func (w *Worker) Run(ctx context.Context) error {
	ctx = metrics.WithPath(ctx, "outbox")
	if err := w.o.Setup(ctx); err != nil {
		return err
	}
	reads, closeReads := w.readClient()
	defer closeReads()
	work := map[Priority]chan item{Reply: make(chan item), Bulk: make(chan item)}
	var wg sync.WaitGroup
	goFn := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	for _, r := range []struct {
		p Priority
		n int
	}{{Reply, w.opts.ReplyWorkers}, {Bulk, w.opts.BulkWorkers}} {
		for range r.n {
			goFn(func() { w.send(ctx, work[r.p]) })
		}
		streams := w.o.keys.Streams(r.p)
		if w.o.cluster {
			for _, stream := range streams {
				goFn(func() { w.read(ctx, reads, r.p, []string{stream}, work[r.p]) })
			}
		} else {
			goFn(func() { w.read(ctx, reads, r.p, streams, work[r.p]) })
		}
	}
	goFn(func() { w.every(ctx, moveEvery, w.moveDue) })
	for _, p := range priorities {
		goFn(func() { w.every(ctx, w.opts.ClaimIdle/2, func(ctx context.Context) { w.claim(ctx, p, work[p]) }) })
	}
	// The heartbeat outlives ctx: entries in hand are finished after it ends.
	beat, stopBeat := context.WithCancel(context.WithoutCancel(ctx))
	beatDone := make(chan struct{})
	go func() { defer close(beatDone); w.every(beat, w.opts.ClaimIdle/3, w.heartbeat) }()
	wg.Wait()
	stopBeat()
	<-beatDone
	w.leave()
	return nil
}

// send handles the entries given to it until ctx ends.
func (w *Worker) send(ctx context.Context, in <-chan item) {
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-in:
			w.handle(ctx, it.stream, it.xm, it.fresh)
		}
	}
}

// dispatch gives an entry in hand to a sender, and reports whether one
// took it; when ctx ends first, the entry is let go of, unacknowledged,
// for another worker to take over.
func (w *Worker) dispatch(ctx context.Context, out chan<- item, it item) bool {
	select {
	case out <- it:
		return true
	case <-ctx.Done():
		w.release(it.stream, it.xm.ID)
		return false
	}
}

// heartbeat resets the idle time of the entries in hand, so that a slow
// send (a rate limit, a provider's Retry-After) is not taken for a dead
// worker's: one XCLAIM a stream, in one pipeline.
func (w *Worker) heartbeat(ctx context.Context) {
	w.mu.Lock()
	byStream := map[string][]string{}
	for h := range w.inHand {
		byStream[h.stream] = append(byStream[h.stream], h.id)
	}
	w.mu.Unlock()
	if len(byStream) == 0 {
		return
	}
	_, err := w.o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for stream, ids := range byStream {
			p.XClaimJustID(ctx, &redis.XClaimArgs{Stream: stream, Group: group, Consumer: w.opts.Consumer, MinIdle: 0, Messages: ids})
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		w.log.Warn("refreshing entries in hand failed", "err", err)
	}
}

// take marks an entry in hand; false when it already is (a claim of our own).
func (w *Worker) take(stream, id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := held{stream, id}
	if _, ok := w.inHand[h]; ok {
		return false
	}
	w.inHand[h] = struct{}{}
	return true
}

func (w *Worker) release(stream, id string) {
	w.mu.Lock()
	delete(w.inHand, held{stream, id})
	w.mu.Unlock()
}

// leave removes this worker from the consumer group of each stream where
// it holds nothing, so that the group's consumer lists do not grow with
// every restart.
func (w *Worker) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var streams []string
	for _, p := range priorities {
		streams = append(streams, w.o.keys.Streams(p)...)
	}
	pending := make([]*redis.XPendingExtCmd, len(streams))
	w.o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, stream := range streams {
			pending[i] = p.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: stream, Group: group, Consumer: w.opts.Consumer, Start: "-", End: "+", Count: 1})
		}
		return nil
	})
	w.o.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, stream := range streams {
			if held, err := pending[i].Result(); err == nil && len(held) == 0 {
				p.XGroupDelConsumer(ctx, stream, group, w.opts.Consumer)
			}
		}
		return nil
	})
}

func (w *Worker) every(ctx context.Context, d time.Duration, f func(context.Context)) {
	t := time.NewTicker(max(d, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

// readClient returns the client of the blocking reads, and what closes it.
// On one node it is the outbox's: two reads block at a time. On a Cluster
// it is a client of its own, like the outbox's, with room in each node's
// pool for every shard's readers: held by blocked reads, the connections of
// a pool sized for the service would leave its commands waiting for one.
func (w *Worker) readClient() (redis.UniversalClient, func()) {
	cc, ok := w.o.rdb.(*redis.ClusterClient)
	if !ok {
		return w.o.rdb, func() {}
	}
	opt := *cc.Options()
	opt.PoolSize = len(priorities)*w.o.keys.Shards() + 1 // every reader on one node, at most
	opt.MinIdleConns = 0
	c := redis.NewClusterClient(&opt)
	return c, func() { c.Close() }
}

// read takes new entries of one priority from streams (all in one slot on
// a Cluster: one stream), at most one a stream at a time, through rdb,
// and gives them to the priority's senders: it reads again once a sender
// took them.
func (w *Worker) read(ctx context.Context, rdb redis.UniversalClient, p Priority, streams []string, out chan<- item) {
	args := append(slices.Clone(streams), slices.Repeat([]string{">"}, len(streams))...)
	for ctx.Err() == nil {
		if p == Bulk && w.opts.Quiet != nil && w.opts.Quiet(w.opts.Clock.Now()) {
			sleep(ctx, min(w.opts.Block, time.Second))
			continue
		}
		res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: group, Consumer: w.opts.Consumer, Streams: args, Count: 1, Block: w.opts.Block,
		}).Result()
		if errors.Is(err, redis.Nil) || ctx.Err() != nil {
			continue
		}
		if err != nil {
			if strings.HasPrefix(err.Error(), "NOGROUP") {
				w.o.Setup(ctx)
				continue
			}
			w.metrics.Errors.WithLabelValues("outbox_read").Inc()
			w.log.Warn("reading the outbox failed; retrying", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		var batch []item
		for _, s := range res {
			for _, xm := range s.Messages {
				if w.take(s.Stream, xm.ID) {
					batch = append(batch, item{stream: s.Stream, xm: xm, fresh: true})
				}
			}
		}
		for i, it := range batch {
			if !w.dispatch(ctx, out, it) {
				for _, rest := range batch[i+1:] {
					w.release(rest.stream, rest.xm.ID)
				}
				return
			}
		}
	}
}

// handle sends one entry and acknowledges it, or schedules its retry, or
// gives it up to the dead-letter list. When stop ends while it waits for
// the rate, it leaves the entry unacknowledged for another worker; a send
// under way is finished, and recorded, whatever stop says.
//
// The entry is in hand (take) when handle is called; it is let go of when
// handle returns.
func (w *Worker) handle(stop context.Context, stream string, xm redis.XMessage, fresh bool) {
	defer w.release(stream, xm.ID)
	ctx := context.WithoutCancel(stop)
	raw, _ := xm.Values["e"].(string)
	e, err := decodeEntry(raw)
	if err != nil {
		w.bury(ctx, stream, xm.ID, Entry{ID: "undecodable"}, "undecodable")
		return
	}
	ch := w.channels[e.Channel]
	if ch == nil {
		w.bury(ctx, stream, xm.ID, e, "channel_off")
		return
	}
	if w.contacts != nil && e.Contact != "" {
		reason, err := w.contacts.Suppressed(ctx, e.Contact, e.Priority == Bulk)
		if err != nil {
			w.log.Warn("reading the contact failed; the entry stays for another try", "err", err)
			return // not acknowledged: claimed again later
		}
		if reason != "" {
			w.skip(ctx, stream, xm.ID, e, reason)
			return
		}
	}
	if e.Expires > 0 && w.opts.Clock.Now().UnixMilli() > e.Expires {
		w.skip(ctx, stream, xm.ID, e, "expired")
		return
	}
	if e.Broadcast != "" && w.cancelled(ctx, e) {
		w.skip(ctx, stream, xm.ID, e, "cancelled")
		return
	}
	to, plain, reason, err := e.open(w.opener)
	if err != nil {
		w.bury(ctx, stream, xm.ID, e, reason)
		return
	}
	defer w.lock(e.Channel + ":" + to)()
	rec, _ := ch.Sender.(Reconciler)
	done := 0
	var tried attempt
	if !fresh || e.Tries > 0 {
		// Taken over, or tried before: some parts may have been sent, and
		// one may have been handed over with no answer recorded.
		done, tried, err = w.progress(ctx, e.ID, rec != nil)
		if err != nil {
			w.log.Warn("reading the outbox failed; the entry stays for another try", "err", err)
			return
		}
	}
	all := sends(plain, ch.MaxLen, unitsOf(ch.Sender), to)
	for i, msg := range all {
		if i < done {
			continue // sent before its worker stopped
		}
		var id string
		if tried.ok && tried.part == i {
			// Its answer never came: ask the provider before sending again.
			var found bool
			if id, found, err = w.reconcile(ctx, rec, e, msg, tried.at); err != nil {
				w.failed(ctx, stream, xm.ID, e, err)
				return
			}
			if found {
				w.metrics.Sent.WithLabelValues(e.Channel).Inc()
				if w.recordPart(ctx, stream, xm.ID, e, i, len(all), id) {
					return
				}
				continue
			}
		}
		for {
			if err := w.wait(stop, ch, e, msg); err != nil {
				return // stopping: left for another worker
			}
			if i == 0 && e.Broadcast != "" && w.cancelled(ctx, e) {
				// Called off while this waited for the rate.
				w.skip(ctx, stream, xm.ID, e, "cancelled")
				return
			}
			if rec != nil && msg.Callback == "" {
				if err := w.markAttempt(ctx, e.ID, i); err != nil {
					// Unmarked, an answer lost would go unnoticed: not now.
					w.log.Warn("marking a send failed; the entry stays for another try", "err", err)
					return
				}
			}
			began := time.Now()
			sendCtx, cancel := context.WithTimeout(ctx, w.opts.SendTimeout)
			id, err = ch.Sender.Send(sendCtx, msg)
			cancel()
			w.metrics.SendSeconds.WithLabelValues(e.Channel).Observe(time.Since(began).Seconds())
			if err != nil && msg.Callback != "" {
				// Answering a button press is a courtesy: a query too old
				// to answer must not hold back the replies.
				w.log.Info("answering a button press failed", "channel", e.Channel, "entry", e.ID)
				err = nil
			}
			d := throttled(err)
			if d <= 0 {
				break
			}
			// The provider asked the channel to wait: the channel pauses
			// and this part goes again after the pause, in its place among
			// the person's messages. Waiting costs no try: a sustained
			// rate limit holds messages back, it does not give them up.
			w.metrics.SendFailures.WithLabelValues(e.Channel, reasonOf(err)).Inc()
			w.log.Warn("the provider asked to wait; the channel pauses", "channel", e.Channel, "entry", e.ID, "reason", reasonOf(err), "wait", d)
			if ch.Gate == nil {
				if err := sleepCtx(stop, d); err != nil {
					return // stopping: left for another worker
				}
			}
			ch.Gate.Pause(d)
		}
		if err != nil {
			w.failed(ctx, stream, xm.ID, e, err)
			return
		}
		if msg.Callback == "" {
			w.metrics.Sent.WithLabelValues(e.Channel).Inc()
			w.o.stats.Add(stats.Name(stats.Out, e.Channel), 1)
			if id == "" { // no delivery callbacks (Telegram): accepted is delivered
				w.o.stats.Add(stats.Name(stats.Delivered, e.Channel), 1)
			}
		}
		if w.recordPart(ctx, stream, xm.ID, e, i, len(all), id) {
			return
		}
	}
	w.ack(ctx, stream, xm.ID, e.ID) // nothing left to send
}

// recordPart records part i of n as sent under the provider's id, and
// reports whether it was the last: then its record, the broadcast's counts
// and the acknowledgement go together (finish). A part's record goes
// before the count of parts sent: a crash between leaves the part's
// outcome unknown when the entry is claimed; it is sent again, unless its
// provider, asked, has it (and its record names this entry).
func (w *Worker) recordPart(ctx context.Context, stream, xid string, e Entry, i, n int, id string) (last bool) {
	if i == n-1 {
		w.finish(ctx, stream, xid, e, id)
		return true
	}
	err := w.o.inOrder(ctx, func(p redis.Pipeliner) {
		if id != "" {
			w.o.recordSent(ctx, p, id, "queued", e) // the provider id's slot
		}
	}, func(p redis.Pipeliner) {
		p.Set(ctx, w.o.keys.done(e.ID), i+1, w.o.doneTTL) // the entry id's
	})
	if err != nil {
		w.log.Warn("recording a sent part failed", "err", err)
	}
	return false
}

// throttled returns how long a provider asked to wait when a send failed
// for its rate (a 429 with Retry-After or retry_after), else 0.
func throttled(err error) time.Duration {
	var se *SendError
	if errors.As(err, &se) && se.Failure == Retry && se.RetryAfter > 0 {
		return se.RetryAfter
	}
	return 0
}

// reasonOf is a failed send's reason, for metrics and logs.
func reasonOf(err error) string {
	var se *SendError
	if errors.As(err, &se) {
		return se.Reason
	}
	return "error"
}

// finish records an entry's last send and acknowledges the entry: the
// provider's message id (when the channel has delivery callbacks), then,
// in one transaction on the slot of the entry's stream, the broadcast's
// counts, who it reached and the acknowledgement, then the end of its
// progress markers. On one node the three are one transaction; on a
// Cluster they are three, in that order: a crash after the record leaves
// the entry to be claimed, and its last part, asked about (the attempt
// mark), found recorded for it and not sent again; a crash after the
// acknowledgement leaves markers that expire.
func (w *Worker) finish(ctx context.Context, stream, xid string, e Entry, providerID string) {
	err := w.o.inOrder(ctx, func(p redis.Pipeliner) {
		if providerID != "" {
			w.o.recordSent(ctx, p, providerID, "queued", e)
		}
	}, func(p redis.Pipeliner) {
		if e.Broadcast != "" {
			shard := w.o.keys.streamShard(stream, e)
			w.o.counts.Add(ctx, p, e.Broadcast, shard, tally.Sent)
			if providerID == "" { // no delivery callbacks (Telegram): accepted is delivered
				w.o.counts.Add(ctx, p, e.Broadcast, shard, tally.Delivered)
			}
			if e.Contact != "" {
				p.SAdd(ctx, w.o.keys.BroadcastTold(e.Broadcast, shard), e.Contact)
			}
		}
		w.ackIn(ctx, p, stream, xid)
	}, func(p redis.Pipeliner) {
		w.forgetIn(ctx, p, e.ID)
	})
	if err != nil {
		// Redis runs the rest of a transaction when one command fails: the
		// entry may be acknowledged or not; if not, it is claimed again.
		w.log.Warn("recording a sent entry failed", "err", err)
	}
}

// cancelled reports whether an entry's broadcast was called off; when
// Redis cannot tell, it is taken as not cancelled.
func (w *Worker) cancelled(ctx context.Context, e Entry) bool {
	status, err := w.o.rdb.HGet(ctx, w.o.keys.Broadcast(e.Broadcast), "status").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		w.log.Warn("reading a broadcast's status failed", "err", err)
	}
	return status == "cancelled"
}

// unitsOf is how a sender counts a character against its length limit.
func unitsOf(s Sender) func(rune) int {
	if uc, ok := s.(UnitCounter); ok {
		return uc.Units
	}
	return nil
}

// sends returns the sends of an entry in order: the callback answer, then
// each message cut to the channel's length, its choices on its last part.
func sends(e Entry, maxLen int, units func(rune) int, to string) []Message {
	var out []Message
	if e.Callback != "" {
		out = append(out, Message{ID: e.ID, To: to, Callback: e.Callback})
	}
	if e.Template != "" {
		return append(out, Message{ID: e.ID, To: to, Template: e.Template, TemplateVars: e.TemplateVars})
	}
	for _, m := range e.Messages {
		parts := SplitUnits(m.Text, maxLen, units)
		for j, p := range parts {
			msg := Message{ID: e.ID, To: to, Text: p}
			if j == len(parts)-1 {
				msg.Choices = m.Choices
			}
			out = append(out, msg)
		}
	}
	return out
}

// lock keeps one person's entries in order within this process: a second
// entry for the same person waits until the first is sent.
func (w *Worker) lock(key string) func() {
	h := fnv.New32a()
	h.Write([]byte(key))
	m := &w.stripes[h.Sum32()%uint32(len(w.stripes))]
	m.Lock()
	return m.Unlock
}

// wait takes the rate tokens for one send. Answering a button press costs
// nothing: it is not a message.
func (w *Worker) wait(ctx context.Context, ch *Channel, e Entry, msg Message) error {
	if msg.Callback != "" {
		return nil
	}
	cost := 1.0
	if ch.Cost != nil {
		cost = ch.Cost(msg.Text)
	}
	high := e.Priority == Reply
	if err := ch.Gate.Wait(ctx, cost, high); err != nil {
		return err
	}
	if ch.perChat != nil {
		return ch.perChat.get(msg.To).Wait(ctx, 1, high)
	}
	return nil
}

// failed acts on a failed send.
func (w *Worker) failed(ctx context.Context, stream, xid string, e Entry, err error) {
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Failure: Retry, Reason: "error"}
	}
	w.metrics.SendFailures.WithLabelValues(e.Channel, se.Reason).Inc()
	w.log.Warn("send failed", "channel", e.Channel, "entry", e.ID, "reason", se.Reason, "tries", e.Tries+1)
	switch se.Failure {
	case Retry:
		e.Tries++
		if e.Tries >= w.opts.MaxTries {
			w.bury(ctx, stream, xid, e, "gave_up:"+se.Reason)
			return
		}
		delay := w.opts.Backoff(e.Tries)
		_, canAsk := w.channels[e.Channel].Sender.(Reconciler)
		unsure := canAsk && maybeSent(err)
		if unsure {
			// The provider may still be taking it: give it as long again
			// before asking whether it did.
			delay = max(delay, w.opts.SendTimeout)
		}
		// The delayed set is the stream's shard's: moved with the
		// acknowledgement in one transaction.
		err := w.o.inOrder(ctx, func(p redis.Pipeliner) {
			p.ZAdd(ctx, w.o.keys.delayed(w.o.keys.streamShard(stream, e)), redis.Z{Score: float64(w.opts.Clock.Now().Add(delay).UnixMilli()), Member: e.Encode()})
			w.ackIn(ctx, p, stream, xid)
		}, func(p redis.Pipeliner) {
			if canAsk && !unsure {
				p.Del(ctx, w.o.keys.attempt(e.ID)) // refused: nothing to ask
			}
		})
		if err != nil {
			w.log.Warn("scheduling a retry failed; the entry stays for another try", "err", err)
		}
		return
	case OptedOut:
		if err := w.contacts.MarkOptedOut(ctx, e.Contact); err != nil {
			w.log.Warn("marking a contact opted out failed", "err", err)
		}
		w.unsent(ctx, e)
	case Blocked:
		if err := w.contacts.MarkBlocked(ctx, e.Contact); err != nil {
			w.log.Warn("marking a contact blocked failed", "err", err)
		}
		w.unsent(ctx, e)
	case Undeliverable:
		if err := w.contacts.MarkUndeliverable(ctx, e.Contact); err != nil {
			w.log.Warn("marking a contact undeliverable failed", "err", err)
		}
		w.unsent(ctx, e)
	case NeedsTemplate:
		if err := w.contacts.MarkNeedsTemplate(ctx, e.Contact); err != nil {
			w.log.Warn("marking a contact as needing a template failed", "err", err)
		}
		w.skip(ctx, stream, xid, e, "needs_template")
		return
	case Permanent:
		w.bury(ctx, stream, xid, e, se.Reason)
		return
	}
	w.ack(ctx, stream, xid, e.ID)
}

// unsent counts a message that failed before the provider took it: in
// its broadcast's counts, and in the daily counts.
func (w *Worker) unsent(ctx context.Context, e Entry) {
	if e.Channel != "" {
		w.o.stats.Add(stats.Name(stats.Failed, e.Channel), 1)
	}
	w.count(ctx, e, tally.Unsent)
}

// skip acknowledges an entry not sent, and counts why.
func (w *Worker) skip(ctx context.Context, stream, xid string, e Entry, reason string) {
	w.metrics.Skipped.WithLabelValues(e.Channel, reason).Inc()
	w.count(ctx, e, tally.Skipped(reason))
	w.ack(ctx, stream, xid, e.ID)
}

// count adds events to the counts of an entry's broadcast, if it has one,
// in the share of the entry's shard.
func (w *Worker) count(ctx context.Context, e Entry, events ...tally.Event) {
	if e.Broadcast == "" {
		return
	}
	_, err := w.o.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		w.o.counts.Add(ctx, p, e.Broadcast, w.o.keys.shard(e), events...)
		return nil
	})
	if err != nil {
		w.log.Warn("counting a broadcast failed", "err", err)
	}
}

// ack acknowledges an entry, then forgets its progress.
func (w *Worker) ack(ctx context.Context, stream, xid string, entryID string) {
	err := w.o.inOrder(ctx, func(p redis.Pipeliner) {
		w.ackIn(ctx, p, stream, xid)
	}, func(p redis.Pipeliner) {
		w.forgetIn(ctx, p, entryID)
	})
	if err != nil {
		w.log.Warn("acknowledging failed; the entry may be claimed again", "err", err)
	}
}

// ackIn queues on p the acknowledgement of a stream entry (the stream's slot).
func (w *Worker) ackIn(ctx context.Context, p redis.Pipeliner, stream, xid string) {
	p.XAck(ctx, stream, group, xid)
	p.XDel(ctx, stream, xid)
}

// forgetIn queues on p the end of an entry's progress markers (the slot of
// the entry id's shard). It goes after the acknowledgement: markers
// forgotten first would let an entry claimed again send its parts again.
func (w *Worker) forgetIn(ctx context.Context, p redis.Pipeliner, entryID string) {
	p.Del(ctx, w.o.keys.done(entryID))
	p.Del(ctx, w.o.keys.attempt(entryID))
}

// bury moves an entry to the dead-letter list and acknowledges it.
func (w *Worker) bury(ctx context.Context, stream, xid string, e Entry, reason string) {
	w.metrics.DeadLetters.WithLabelValues(e.Channel, reasonLabel(reason)).Inc()
	w.unsent(ctx, e)
	w.log.Warn("message given up, moved to the dead-letter list", "channel", e.Channel, "entry", e.ID, "reason", reason)
	d, _ := json.Marshal(DeadLetter{Entry: e, Reason: reason, At: w.opts.Clock.Now().UTC()})
	// The letter before the acknowledgement: a crash between buries the
	// entry twice, never loses it.
	err := w.o.inOrder(ctx, func(p redis.Pipeliner) {
		p.LPush(ctx, w.o.keys.dead(), d)
		p.LTrim(ctx, w.o.keys.dead(), 0, maxDead-1)
	}, func(p redis.Pipeliner) {
		w.ackIn(ctx, p, stream, xid)
	}, func(p redis.Pipeliner) {
		p.Del(ctx, w.o.keys.attempt(e.ID))
	})
	if err != nil {
		w.log.Warn("moving to the dead-letter list failed", "err", err)
	}
}

func reasonLabel(reason string) string {
	r, _, _ := strings.Cut(reason, ":")
	if r == "gave_up" {
		return r
	}
	return reason
}

//go:embed move.lua
var moveSrc string

var moveScript = redis.NewScript(moveSrc)

// moveEvery is how often due retries are moved back: a script a shard
// each time, so not more often than a retry's least backoff (Backoff's
// first is 1 to 2 seconds) needs.
const moveEvery = time.Second

// moveDue puts entries whose retry time has come back in their stream:
// each shard's delayed set into that shard's streams (one script a slot,
// all in one pipeline).
func (w *Worker) moveDue(ctx context.Context) {
	k := w.o.keys
	sets := make([][]string, k.Shards())
	for i := range sets {
		sets[i] = []string{k.delayed(i), k.Stream(Reply, i), k.Stream(Bulk, i)}
	}
	err := w.o.evalEach(ctx, moveScript, sets, w.opts.Clock.Now().UnixMilli(), 100)
	if err != nil && ctx.Err() == nil {
		w.log.Warn("moving due retries failed", "err", err)
	}
}

// claim takes over the entries of priority p that another worker took and
// never acknowledged (it died, or lost Redis mid-send), and gives them to
// the senders of p: one XAUTOCLAIM a shard's stream, in one pipeline.
func (w *Worker) claim(ctx context.Context, p Priority, out chan<- item) {
	if p == Bulk && w.opts.Quiet != nil && w.opts.Quiet(w.opts.Clock.Now()) {
		return // bulk traffic waits out the quiet hours, taken over or not
	}
	streams := w.o.keys.Streams(p)
	cmds := make([]*redis.XAutoClaimCmd, len(streams))
	w.o.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, stream := range streams {
			cmds[i] = pipe.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: stream, Group: group, Consumer: w.opts.Consumer, MinIdle: w.opts.ClaimIdle, Start: "0-0", Count: 50,
			})
		}
		return nil
	})
	var claimed []item
	for i, cmd := range cmds {
		msgs, _, err := cmd.Result()
		if err != nil {
			if ctx.Err() == nil && !strings.HasPrefix(err.Error(), "NOGROUP") {
				w.log.Warn("claiming stale entries failed", "err", err)
			}
			continue
		}
		for _, xm := range msgs {
			// In hand at once: heartbeats keep them ours while they wait.
			if w.take(streams[i], xm.ID) {
				claimed = append(claimed, item{stream: streams[i], xm: xm})
			}
		}
	}
	for i, it := range claimed {
		if ctx.Err() == nil {
			pending, err := w.o.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: it.stream, Group: group, Start: it.xm.ID, End: it.xm.ID, Count: 1}).Result()
			if err == nil && len(pending) == 1 && pending[0].RetryCount > maxDeliveries {
				e, _ := decodeEntry(fmt.Sprint(it.xm.Values["e"]))
				w.bury(context.WithoutCancel(ctx), it.stream, it.xm.ID, e, "claimed_too_often")
				w.release(it.stream, it.xm.ID)
				continue
			}
			w.metrics.Claimed.Inc()
			if w.dispatch(ctx, out, it) {
				continue
			}
		}
		for _, rest := range claimed[i:] {
			w.release(rest.stream, rest.xm.ID)
		}
		return
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
