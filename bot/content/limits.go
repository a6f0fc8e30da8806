package content

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Bounds on one content set: what a publish may cost to check, to keep and
// to render. The shipped content is far inside them (6 files, 50 KB, 119
// message ids a language, messages of at most 270 characters).
const (
	// MaxFiles bounds the files of a content set.
	MaxFiles = 32
	// MaxFileBytes bounds one file.
	MaxFileBytes = 128 << 10
	// MaxTotalBytes bounds the whole set.
	MaxTotalBytes = 1 << 20
	// MaxEntries bounds the entries of any one mapping of a file: the
	// message ids of a locale, the nodes of a flow file, the fields of a
	// node. It keeps every decoding step cheap (the YAML decoder checks a
	// mapping's keys pairwise).
	MaxEntries = 1000
	// MaxMessageChars bounds a message as rendered with sample data: 1600
	// characters is the longest body Twilio sends (10 GSM-7 segments,
	// 23 in UCS-2); a longer text cannot go as one SMS at all.
	MaxMessageChars = 1600
)

// ContentPath reports whether name is a path a content set may hold:
// flows/<name>.yaml, locales/<lang>.yaml or locales/<name>.md.
func ContentPath(name string) bool {
	dir, file := path.Split(name)
	switch {
	case !fs.ValidPath(name) || strings.HasPrefix(file, "."):
		return false
	case dir == "flows/":
		return path.Ext(file) == ".yaml" && len(file) > len(".yaml")
	case dir == "locales/":
		return (path.Ext(file) == ".yaml" || path.Ext(file) == ".md") && len(file) > len(path.Ext(file))
	}
	return false
}

// CheckFiles checks a content set given as files by path, as a publish
// brings it: every path must be a content path (ContentPath) or a
// recording's (AudioPath), and the set within the bounds, before anything
// is parsed. Then it is checked as Check does. Recordings have bounds of
// their own (MaxAudioFiles …).
func CheckFiles(files map[string][]byte) (*Content, Problems) {
	var ps Problems
	names := slices.Sorted(maps.Keys(files))
	names = slices.DeleteFunc(names, AudioPath)
	if len(names) > MaxFiles {
		ps.add(Problem{File: "content", Msg: fmt.Sprintf("%d files: a content set holds at most %d", len(names), MaxFiles)})
		return nil, ps
	}
	total := 0
	for _, name := range names {
		if !ContentPath(name) {
			ps.add(Problem{File: name, Msg: "not a content file: a content set holds flows/<name>.yaml, locales/<lang>.yaml, locales/<name>.md and recordings, audio/<lang>/<message-id>.mp3 or .wav"})
		}
		total += len(files[name])
	}
	if total > MaxTotalBytes {
		ps.add(Problem{File: "content", Msg: fmt.Sprintf("%d bytes in all: a content set holds at most %d", total, MaxTotalBytes)})
	}
	if ps.HasErrors() {
		return nil, ps
	}
	return Check(FromFiles(files))
}

// contentFiles lists the files of fsys that Check reads, refusing more
// than MaxFiles.
func contentFiles(fsys fs.FS) (flows, locales, notes []string, ps Problems) {
	flows, _ = fs.Glob(fsys, "flows/*.yaml")
	locales, _ = fs.Glob(fsys, "locales/*.yaml")
	notes, _ = fs.Glob(fsys, "locales/*.md")
	if n := len(flows) + len(locales) + len(notes); n > MaxFiles {
		ps.add(Problem{File: "content", Msg: fmt.Sprintf("%d files: a content set holds at most %d", n, MaxFiles)})
	}
	return flows, locales, notes, ps
}

// reader reads the files of one content set within the byte bounds.
type reader struct {
	fsys  fs.FS
	total int
}

// read returns a file's bytes, or a problem when it is over MaxFileBytes
// or brings the set over MaxTotalBytes. It never reads more than one byte
// past the bound.
func (r *reader) read(name string) ([]byte, *Problem) {
	data, err := readBounded(r.fsys, name, MaxFileBytes)
	if errors.Is(err, errTooBig) {
		return nil, &Problem{File: name, Msg: fmt.Sprintf("over %d bytes: a file holds at most %d KiB", MaxFileBytes, MaxFileBytes>>10)}
	} else if err != nil {
		return nil, &Problem{File: name, Msg: err.Error()}
	}
	r.total += len(data)
	if r.total > MaxTotalBytes {
		return nil, &Problem{File: name, Msg: fmt.Sprintf("the content set passes %d bytes here: it holds at most %d KiB in all", MaxTotalBytes, MaxTotalBytes>>10)}
	}
	return data, nil
}

// parseYAML parses a file into a YAML tree and refuses, before anything is
// decoded from it, a mapping of more than MaxEntries entries, naming its
// line. Parsing into a tree is linear; so is the walk.
func parseYAML(file string, data []byte) (*yaml.Node, Problems) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, Problems{yamlProblem(file, err)}
	}
	var ps Problems
	stack := []*yaml.Node{&doc}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n.Kind == yaml.MappingNode && len(n.Content)/2 > MaxEntries {
			ps.add(Problem{File: file, Line: n.Line, Msg: fmt.Sprintf("a mapping of %d entries: at most %d (message ids in a file, nodes in a flow file, fields anywhere)", len(n.Content)/2, MaxEntries)})
			continue
		}
		stack = append(stack, n.Content...)
	}
	if len(ps) > 0 {
		return nil, ps
	}
	return &doc, nil
}
