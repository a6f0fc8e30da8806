package server

import (
	_ "embed"
	"net/http"
)

// OpenAPI is the description of the HTTP API (openapi.yaml), served at GET /api/v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openAPI serves the description of the HTTP API.
func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(OpenAPI)
	return nil
}
