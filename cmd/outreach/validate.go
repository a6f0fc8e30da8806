package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/outreach-org/outreach/bot/content"
)

// validate checks the content and prints its SMS cost table. It fails, after
// listing every problem as "file:line: key: what is wrong", when the content
// has an error.
func validate(args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("validate", stderr)
	quiet := flags.Bool("q", false, "print problems only, not the SMS cost table")
	dirs, err := parseFlags(flags, args, "usage: outreach validate [-q] [DIR]", stdout)
	if err != nil {
		return err
	}
	var fsys fs.FS
	var where string
	switch len(dirs) {
	case 0:
		fsys, where = content.Embedded(), "built-in content"
	case 1:
		dir := dirs[0]
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			return fmt.Errorf("validate: %s is not a directory", dir)
		}
		fsys, where = content.Dir(dir), dir
	default:
		return fmt.Errorf("validate takes at most one directory")
	}
	c, problems := content.Check(fsys)
	for _, p := range problems {
		fmt.Fprintln(stderr, p)
	}
	if c != nil && !*quiet {
		printCosts(stdout, c)
	}
	errs := problems.Errors()
	if len(errs) > 0 {
		return fmt.Errorf("%s: %d error(s), %d warning(s)", where, len(errs), len(problems)-len(errs))
	}
	fmt.Fprintf(stdout, "%s: valid (%d warning(s))\n", where, len(problems))
	return nil
}

// printCosts prints what each message and menu costs as SMS, a column per
// language, then a summary.
func printCosts(w io.Writer, c *content.Content) {
	type row struct {
		key   string
		node  bool
		costs map[string]content.Cost
	}
	var rows []*row
	index := map[string]*row{}
	for _, cost := range c.Costs() {
		k := fmt.Sprintf("%v/%s/%s", cost.Node, cost.Key, cost.Site)
		r := index[k]
		if r == nil {
			key := cost.Key
			if cost.Site != "" {
				key += " (" + cost.Site + ")"
			}
			r = &row{key: key, node: cost.Node, costs: map[string]content.Cost{}}
			index[k] = r
			rows = append(rows, r)
		}
		r.costs[cost.Lang] = cost
	}
	fmt.Fprintln(w, "SMS cost (segments × encoding (length)) — GSM-7: 160 in one SMS, 153 each when split; UCS-2: 70, then 67.\nMessages alone first, then each menu and each message as sent, with its footer.")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	header := []string{"MESSAGE"}
	for _, lang := range c.Languages {
		header = append(header, strings.ToUpper(lang))
	}
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	perLang := map[string][3]int{} // messages, segments, multi-segment
	for _, r := range rows {
		name := r.key
		if r.node {
			name = "as sent: " + r.key
		}
		cells := []string{name}
		for _, lang := range c.Languages {
			cost, ok := r.costs[lang]
			if !ok {
				cells = append(cells, "-")
				continue
			}
			cells = append(cells, fmt.Sprintf("%d × %s (%d)", cost.Segments, cost.Encoding, cost.Units))
			if r.node {
				s := perLang[lang]
				s[0]++
				s[1] += cost.Segments
				if cost.Segments > 1 {
					s[2]++
				}
				perLang[lang] = s
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
	langs := slices.Clone(c.Languages)
	for _, lang := range langs {
		s := perLang[lang]
		fmt.Fprintf(w, "%s: %d menus and messages as sent, %d segments in all, %d longer than one SMS\n", lang, s[0], s[1], s[2])
	}
}
