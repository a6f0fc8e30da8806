package content

import (
	"io/fs"
	"os"
	"strings"

	"github.com/outreach-org/outreach/flows"
	"github.com/outreach-org/outreach/locales"
)

// Root joins one file system per top-level directory into a content root, so
// that the embedded flows/ and locales/ read like the directories of the repo.
type Root map[string]fs.FS

// Open opens name, a slash-separated path starting with a directory of r.
func (r Root) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	dir, rest, _ := strings.Cut(name, "/")
	sub, ok := r[dir]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if rest == "" {
		rest = "."
	}
	return sub.Open(rest)
}

// Embedded returns the content shipped in the binary: flows/ and locales/.
func Embedded() fs.FS {
	return Root{"flows": flows.FS, "locales": locales.FS}
}

// Dir returns the content rooted at a directory on disk holding flows/ and locales/.
func Dir(path string) fs.FS {
	return os.DirFS(path)
}
