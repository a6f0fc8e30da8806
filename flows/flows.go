// Package flows holds the default conversation flows, embedded in the binary.
// The YAML files beside this one are the content partners edit; see main.yaml.
package flows

import "embed"

// FS holds the default flow files.
//
//go:embed *.yaml
var FS embed.FS
