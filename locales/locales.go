// Package locales holds the default message files, one per language, embedded
// in the binary, and the list of facts they give with their sources.
package locales

import "embed"

// FS holds the default message files and sources.md.
//
//go:embed *.yaml *.md
var FS embed.FS
