package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outreach-org/outreach/bot/keys"
)

// Draft is the next content version as partners prepare it: a whole
// content set (files by path, as versions.Store.Publish takes it), kept
// apart from the live content until it is published.
//
// There is one draft per deployment, shared by every partner: they work
// on the same next version, as they would on one document, and each
// change says who made it. A save is refused when the message it changes
// was changed by someone else since the form was opened (see
// ContentDrafts.Update), so that nobody overwrites another's text unseen.
type Draft struct {
	Files map[string]string `json:"files"`
	// Base is the live version the draft was started from.
	Base int `json:"base"`
	// Rev counts the changes to the draft, from 1.
	Rev int `json:"rev"`
	// StartedBy and StartedAt say who began the draft, and when.
	StartedBy string    `json:"started_by"`
	StartedAt time.Time `json:"started_at"`
	// ChangedBy, ChangedAt and Changed say who changed it last, when, and
	// which message.
	ChangedBy string    `json:"changed_by"`
	ChangedAt time.Time `json:"changed_at"`
	Changed   string    `json:"changed"`
}

// ContentDrafts keeps the draft in Redis, under the key prefix:
// <prefix>{draft}:content.
type ContentDrafts struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewContentDrafts returns the draft under prefix.
func NewContentDrafts(rdb redis.UniversalClient, prefix string) *ContentDrafts {
	return &ContentDrafts{rdb: rdb, prefix: prefix}
}

func (d *ContentDrafts) key() string { return keys.New(d.prefix).ContentDraft() }

// ErrDraftChanged means the draft changed while a change to it was made:
// try again, or show the person the new draft.
var ErrDraftChanged = errors.New("console: the draft changed meanwhile")

// Get returns the draft; ok is false when there is none.
func (d *ContentDrafts) Get(ctx context.Context) (Draft, bool, error) {
	return d.get(ctx, d.rdb)
}

func (d *ContentDrafts) get(ctx context.Context, c redis.Cmdable) (Draft, bool, error) {
	data, err := c.Get(ctx, d.key()).Bytes()
	if errors.Is(err, redis.Nil) {
		return Draft{}, false, nil
	} else if err != nil {
		return Draft{}, false, err
	}
	var dr Draft
	if err := json.Unmarshal(data, &dr); err != nil {
		return Draft{}, false, fmt.Errorf("console: the draft does not read: %w", err)
	}
	return dr, true, nil
}

// Update changes the draft in one step: change gets the draft (start, a
// new draft, when there is none) and returns the files it should hold,
// or an error that leaves it as it was. The draft is saved by who, its
// revision counted, unless the files are the same; changed tells. When
// another change comes in between, change runs again on the new draft (a
// few times, then ErrDraftChanged).
func (d *ContentDrafts) Update(ctx context.Context, who, message string, start func() (Draft, error), change func(Draft) (map[string]string, error)) (out Draft, changed bool, err error) {
	txn := func(tx *redis.Tx) error {
		changed = false
		dr, ok, err := d.get(ctx, tx)
		if err != nil {
			return err
		}
		if !ok {
			if dr, err = start(); err != nil {
				return err
			}
		}
		files, err := change(dr)
		if err != nil {
			return err
		}
		if maps.Equal(files, dr.Files) {
			out = dr // nothing changed (and no draft started for nothing)
			return nil
		}
		dr.Files = files
		dr.Rev++
		dr.ChangedBy, dr.ChangedAt, dr.Changed = who, time.Now().UTC(), message
		if dr.StartedBy == "" {
			dr.StartedBy, dr.StartedAt = who, dr.ChangedAt
		}
		data, err := json.Marshal(dr)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, d.key(), data, 0)
			return nil
		})
		out, changed = dr, err == nil
		return err
	}
	for range 5 {
		err = d.rdb.Watch(ctx, txn, d.key())
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		return out, changed && err == nil, err
	}
	return Draft{}, false, ErrDraftChanged
}

// Delete removes the draft if it is still at revision rev (after a
// publish of it, or when it is discarded); it reports whether it did.
func (d *ContentDrafts) Delete(ctx context.Context, rev int) (bool, error) {
	deleted := false
	err := d.rdb.Watch(ctx, func(tx *redis.Tx) error {
		dr, ok, err := d.get(ctx, tx)
		if err != nil || !ok || dr.Rev != rev {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Del(ctx, d.key())
			return nil
		})
		deleted = err == nil
		return err
	}, d.key())
	if errors.Is(err, redis.TxFailedErr) {
		return false, nil
	}
	return deleted, err
}
