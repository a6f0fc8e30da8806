package config

import (
	"fmt"
	"strings"
	"time"
)

// QuietHours are the local hours when bulk traffic waits.
type QuietHours struct {
	// From and To are minutes after midnight; From == To means none.
	From, To int
	Location *time.Location
}

// Quiet reports whether t falls in the quiet hours.
func (q QuietHours) Quiet(t time.Time) bool {
	if q.From == q.To {
		return false
	}
	local := t.In(q.Location)
	m := local.Hour()*60 + local.Minute()
	if q.From < q.To {
		return m >= q.From && m < q.To
	}
	return m >= q.From || m < q.To // across midnight
}

// End returns when bulk traffic held at t leaves: t itself outside the
// quiet hours, else the end of the quiet hours t falls in.
func (q QuietHours) End(t time.Time) time.Time {
	if !q.Quiet(t) {
		return t
	}
	local := t.In(q.Location)
	end := time.Date(local.Year(), local.Month(), local.Day(), q.To/60, q.To%60, 0, 0, q.Location)
	if !end.After(local) { // across midnight, before it: the end is tomorrow
		end = time.Date(local.Year(), local.Month(), local.Day()+1, q.To/60, q.To%60, 0, 0, q.Location)
	}
	return end
}

// Span returns the quiet hours as local clock times ("21:00", "08:00");
// both empty when there are none.
func (q QuietHours) Span() (from, to string) {
	if q.From == q.To {
		return "", ""
	}
	clockOf := func(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }
	return clockOf(q.From), clockOf(q.To)
}

func parseQuietHours(v string, loc *time.Location) (QuietHours, error) {
	q := QuietHours{Location: loc}
	if v == "" {
		return q, nil
	}
	bad := fmt.Errorf("OUTREACH_QUIET_HOURS: want HH:MM-HH:MM, e.g. 21:00-08:00, or empty for none; got %q", v)
	from, to, ok := strings.Cut(v, "-")
	if !ok {
		return q, bad
	}
	var err error
	if q.From, err = clock(from); err != nil {
		return q, bad
	}
	if q.To, err = clock(to); err != nil {
		return q, bad
	}
	return q, nil
}

func clock(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// parseTemplates reads "kind=ContentSid,kind=ContentSid".
func parseTemplates(v string) (map[string]string, error) {
	out := map[string]string{}
	if v == "" {
		return out, nil
	}
	for _, pair := range strings.Split(v, ",") {
		kind, sid, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || kind == "" || !strings.HasPrefix(sid, "HX") {
			return nil, fmt.Errorf("OUTREACH_WHATSAPP_TEMPLATES: want kind=HX…, separated by commas (kinds: message, notice_new, notice_reminder, notice_changed, notice_cancelled); got %q", pair)
		}
		out[kind] = sid
	}
	return out, nil
}
