package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// apiClient talks to a running service's admin API (OUTREACH_URL,
// OUTREACH_TOKEN), for the staff commands.
type apiClient struct {
	base, token string
	hc          *http.Client
}

func newAPIClient(lookupEnv func(string) (string, bool)) (*apiClient, error) {
	base, _ := lookupEnv("OUTREACH_URL")
	if base == "" {
		base = "http://localhost:8080"
	}
	token, _ := lookupEnv("OUTREACH_TOKEN")
	if token == "" {
		return nil, errors.New("OUTREACH_TOKEN: set it to your API token (staff role)")
	}
	return &apiClient{base: strings.TrimSuffix(base, "/"), token: token, hc: &http.Client{Timeout: 30 * time.Second}}, nil
}

// do sends a request and decodes the JSON answer into out; an error answer
// becomes an error with the service's message. idempotencyKey, if not
// empty, is sent as the Idempotency-Key header.
func (c *apiClient) do(ctx context.Context, method, path string, body any, out any, idempotencyKey ...string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	if len(idempotencyKey) > 0 && idempotencyKey[0] != "" {
		req.Header.Set("Idempotency-Key", idempotencyKey[0])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("OUTREACH_URL %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = http.StatusText(resp.StatusCode)
		}
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, e.Error)
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// splitList splits "a,b,c" into its non-empty parts.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// zone returns the service's time zone (OUTREACH_TIMEZONE, Africa/Casablanca).
func zone(lookupEnv func(string) (string, bool)) *time.Location {
	name, _ := lookupEnv("OUTREACH_TIMEZONE")
	if name == "" {
		name = "Africa/Casablanca"
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// localTime reads RFC 3339, or "2006-01-02 15:04" / "2006-01-02T15:04" in
// loc, the way staff write times.
func localTime(s string, loc *time.Location) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want 2026-12-05T09:00 (local time, %s) or RFC 3339", s, loc)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// parseFlags parses args with fs wherever the flags stand — before, between
// or after the arguments; "--" ends them — and returns the arguments. On
// -h or --help it prints usage and the flags to stdout and returns
// flag.ErrHelp, which run takes for success; on a wrong flag, to stderr.
func parseFlags(fs *flag.FlagSet, args []string, usage string, stdout io.Writer) ([]string, error) {
	fs.Usage = func() {}
	var pos []string
	for {
		err := fs.Parse(args)
		if err != nil {
			w := fs.Output()
			if errors.Is(err, flag.ErrHelp) {
				w = stdout
			}
			fmt.Fprintln(w, usage)
			fs.SetOutput(w)
			fs.PrintDefaults()
			return nil, err
		}
		rest := fs.Args()
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(pos, rest...), nil
		}
		if len(rest) == 0 {
			return pos, nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// staffFlags returns the flag set of a staff command, with the flags every
// one has.
func staffFlags(name string, stderr io.Writer) (fs *flag.FlagSet, addr *string, asJSON *bool) {
	fs = newFlagSet(name, stderr)
	addr = fs.String("url", "", "the service's address (default: OUTREACH_URL, else http://localhost:8080)")
	asJSON = fs.Bool("json", false, "print JSON")
	return fs, addr, asJSON
}

// withURL returns lookupEnv with OUTREACH_URL set to url, when given.
func withURL(lookupEnv func(string) (string, bool), addr string) func(string) (string, bool) {
	if addr == "" {
		return lookupEnv
	}
	return func(k string) (string, bool) {
		if k == "OUTREACH_URL" {
			return addr, true
		}
		return lookupEnv(k)
	}
}

// distributions runs "outreach distributions list|create".
func distributions(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	const usage = "usage: outreach distributions list [--json] [--url URL]\n" +
		"       outreach distributions create --site ID --start TIME --end TIME --place TEXT [--place-en TEXT] [--place-ar TEXT]\n" +
		"              --items rice,oil,… [--bring TEXT] [--who TEXT] [--notify] [--json] [--url URL]"
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	if isHelp(args[0]) {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fs, addr, asJSON := staffFlags("distributions "+args[0], stderr)
	switch args[0] {
	case "list":
		if pos, err := parseFlags(fs, args[1:], usage, stdout); err != nil {
			return err
		} else if len(pos) > 0 {
			return fmt.Errorf("distributions list: unexpected argument %q", pos[0])
		}
		c, err := newAPIClient(withURL(lookupEnv, *addr))
		if err != nil {
			return err
		}
		var out struct {
			Distributions []map[string]any `json:"distributions"`
		}
		if err := c.do(ctx, "GET", "/api/v1/distributions", nil, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out)
		}
		loc := zone(lookupEnv)
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\tSITE\tWHEN (%s)\tPLACE\tNOTIFIED\tCANCELLED\n", loc)
		for _, d := range out.Distributions {
			when := fmt.Sprint(d["starts_at"])
			if start, err := time.Parse(time.RFC3339, when); err == nil {
				when = start.In(loc).Format("Mon 2006-01-02 15:04")
				if end, err := time.Parse(time.RFC3339, fmt.Sprint(d["ends_at"])); err == nil {
					when += "-" + end.In(loc).Format("15:04")
				}
			}
			place := ""
			if p, ok := d["place"].(map[string]any); ok {
				place = fmt.Sprint(p["fr"])
				if place == "<nil>" || place == "" {
					for _, v := range p {
						place = fmt.Sprint(v)
						break
					}
				}
			}
			fmt.Fprintf(tw, "%v\t%v\t%s\t%s\t%v\t%v\n", d["id"], d["site"], when, place, d["notify"] == true, d["cancelled"] == true)
		}
		return tw.Flush()
	case "create":
		site := fs.String("site", "", "site id (see GET /api/v1/sites)")
		start := fs.String("start", "", "start, e.g. 2026-12-05T09:00 (Morocco time)")
		end := fs.String("end", "", "end, e.g. 2026-12-05T12:00")
		place := fs.String("place", "", "where, in French (or for everyone, when the only one)")
		placeEn := fs.String("place-en", "", "where, in English")
		placeAr := fs.String("place-ar", "", "where, in Arabic")
		items := fs.String("items", "", "the kit: comma-separated catalogue ids (rice, flour, oil, …), at least one")
		bring := fs.String("bring", "", "what to bring, in French")
		who := fs.String("who", "", "who should come, in French")
		notify := fs.Bool("notify", false, "announce it to the site's subscribers, with a reminder the day before")
		if pos, err := parseFlags(fs, args[1:], usage, stdout); err != nil {
			return err
		} else if len(pos) > 0 {
			return fmt.Errorf("distributions create: unexpected argument %q (texts go after --place, --bring …)", pos[0])
		}
		loc := zone(lookupEnv)
		s, err := localTime(*start, loc)
		if err != nil {
			return fmt.Errorf("--start: %w", err)
		}
		e, err := localTime(*end, loc)
		if err != nil {
			return fmt.Errorf("--end: %w", err)
		}
		placeBy := map[string]string{}
		for lang, text := range map[string]string{"fr": *place, "en": *placeEn, "ar": *placeAr} {
			if text != "" {
				placeBy[lang] = text
			}
		}
		body := map[string]any{"site": *site, "starts_at": s.Format(time.RFC3339), "ends_at": e.Format(time.RFC3339),
			"place": placeBy, "items": splitList(*items), "notify": *notify}
		if *bring != "" {
			body["bring"] = *bring
		}
		if *who != "" {
			body["who"] = *who
		}
		c, err := newAPIClient(withURL(lookupEnv, *addr))
		if err != nil {
			return err
		}
		var out map[string]any
		if err := c.do(ctx, "POST", "/api/v1/distributions", body, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out)
		}
		fmt.Fprintf(stdout, "distribution %v created", out["id"])
		if told, _ := out["told"].([]any); len(told) > 0 {
			fmt.Fprintf(stdout, "; notice broadcast %v", told[0])
		}
		fmt.Fprintln(stdout)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("distributions: unknown command %q: %w", args[0], errUsage)
}

// broadcastCmd runs "outreach broadcast send|status|cancel".
func broadcastCmd(ctx context.Context, args []string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) error {
	const usage = "usage: outreach broadcast send --fr TEXT [--en TEXT] [--ar TEXT] [--fallback LANG] [--sites a,b] [--languages fr,ar]\n" +
		"              [--channels sms,telegram] [--at TIME] [--key IDEMPOTENCY-KEY] [--follow] [--json] [--url URL]\n" +
		"       outreach broadcast status ID [--follow] [--json] [--url URL]\n" +
		"       outreach broadcast cancel ID [--json] [--url URL]\n" +
		"A message needs a text in every language of its audience (all the bot's\n" +
		"when --languages is not given), or --fallback: the language whose text the\n" +
		"others get. Flags may come before or after ID."
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return errUsage
	}
	if isHelp(args[0]) {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fs, addr, asJSON := staffFlags("broadcast "+args[0], stderr)
	follow := fs.Bool("follow", false, "show progress until the broadcast is done")
	switch args[0] {
	case "send":
		fr := fs.String("fr", "", "the message in French")
		en := fs.String("en", "", "the message in English")
		ar := fs.String("ar", "", "the message in Arabic")
		fallback := fs.String("fallback", "", "the language whose text goes to people whose language has none (fr, en, ar)")
		sites := fs.String("sites", "", "sites whose subscribers get it (default: all)")
		langs := fs.String("languages", "", "only people using these languages")
		channels := fs.String("channels", "", "only these channels (sms, whatsapp, telegram)")
		at := fs.String("at", "", "send later, e.g. 2026-12-04T10:00 (Morocco time)")
		key := fs.String("key", "", "idempotency key: sending again with it sends nothing more")
		if pos, err := parseFlags(fs, args[1:], usage, stdout); err != nil {
			return err
		} else if len(pos) > 0 {
			return fmt.Errorf("broadcast send: unexpected argument %q (the text goes after --fr, --en or --ar)", pos[0])
		}
		text := map[string]string{}
		for lang, t := range map[string]string{"fr": *fr, "en": *en, "ar": *ar} {
			if t != "" {
				text[lang] = t
			}
		}
		body := map[string]any{"kind": "message", "text": text,
			"audience": map[string]any{"sites": splitList(*sites), "languages": splitList(*langs), "channels": splitList(*channels)}}
		if *fallback != "" {
			body["fallback"] = *fallback
		}
		if *at != "" {
			t, err := localTime(*at, zone(lookupEnv))
			if err != nil {
				return fmt.Errorf("--at: %w", err)
			}
			body["send_at"] = t.Format(time.RFC3339)
		}
		c, err := newAPIClient(withURL(lookupEnv, *addr))
		if err != nil {
			return err
		}
		var out struct {
			ID string `json:"id"`
		}
		if err := c.do(ctx, "POST", "/api/v1/broadcasts", body, &out, *key); err != nil {
			return err
		}
		switch {
		case *asJSON && !*follow:
			return printJSON(stdout, out)
		case *asJSON:
			// stdout keeps one JSON document, the final report; the id,
			// needed to cancel, is told at once all the same.
			fmt.Fprintf(stderr, "broadcast %s accepted (cancel: outreach broadcast cancel %s)\n", out.ID, out.ID)
		default:
			fmt.Fprintf(stdout, "broadcast %s accepted (cancel: outreach broadcast cancel %s)\n", out.ID, out.ID)
		}
		if !*follow {
			return nil
		}
		return c.watch(ctx, out.ID, *asJSON, stdout)
	case "status", "cancel":
		pos, err := parseFlags(fs, args[1:], usage, stdout)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			fmt.Fprintln(stderr, usage)
			return fmt.Errorf("broadcast %s takes one broadcast id, not %d arguments: %w", args[0], len(pos), errUsage)
		}
		id := url.PathEscape(pos[0])
		c, err := newAPIClient(withURL(lookupEnv, *addr))
		if err != nil {
			return err
		}
		if args[0] == "cancel" {
			var out map[string]any
			if err := c.do(ctx, "POST", "/api/v1/broadcasts/"+id+"/cancel", nil, &out); err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, out)
			}
			fmt.Fprintf(stdout, "broadcast %s: %v\n", id, out["status"])
			return nil
		}
		if *follow {
			return c.watch(ctx, id, *asJSON, stdout)
		}
		var out report
		if err := c.do(ctx, "GET", "/api/v1/broadcasts/"+id, nil, &out); err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, out)
		}
		fmt.Fprintln(stdout, out.line())
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("broadcast: unknown command %q: %w", args[0], errUsage)
}

// report is a broadcast's status as the API gives it.
type report struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Counts struct {
		Total     int64            `json:"total"`
		Sent      int64            `json:"sent"`
		Delivered int64            `json:"delivered"`
		Failed    int64            `json:"failed"`
		Skipped   int64            `json:"skipped"`
		Unsent    int64            `json:"unsent"`
		SkippedBy map[string]int64 `json:"skipped_by"`
	} `json:"counts"`
}

// line shows a report as one line with a progress bar.
func (r report) line() string {
	const width = 30
	// Finished: sent, skipped, or failed before a provider took it (a
	// message that failed after it was sent is in sent already).
	done := r.Counts.Sent + r.Counts.Skipped + r.Counts.Unsent
	filled := 0
	if r.Counts.Total > 0 {
		filled = int(done * width / r.Counts.Total)
	}
	if r.Status == "done" {
		filled = width
	}
	filled = min(filled, width)
	return fmt.Sprintf("[%s%s] %-9s %d/%d sent %d  delivered %d  failed %d  skipped %d",
		strings.Repeat("#", filled), strings.Repeat(".", width-filled), r.Status, done, r.Counts.Total,
		r.Counts.Sent, r.Counts.Delivered, r.Counts.Failed, r.Counts.Skipped)
}

// watch shows a broadcast's progress until it is done or cancelled.
func (c *apiClient) watch(ctx context.Context, id string, asJSON bool, stdout io.Writer) error {
	for {
		var r report
		if err := c.do(ctx, "GET", "/api/v1/broadcasts/"+id, nil, &r); err != nil {
			return err
		}
		final := r.Status == "done" || r.Status == "cancelled"
		switch {
		case asJSON && final:
			return printJSON(stdout, r)
		case !asJSON:
			fmt.Fprintf(stdout, "\r%s", r.line())
			if final {
				fmt.Fprintln(stdout)
				return nil
			}
		}
		if final {
			return nil
		}
		select {
		case <-ctx.Done():
			fmt.Fprintln(stdout)
			return nil
		case <-time.After(500 * time.Millisecond):
		}
	}
}
