package console

// Placeholders until the changes, diff and what-if pages land (owner: the
// changes work; delete this file when they do).

import "net/http"

func (s *Server) changesData(*http.Request, *Tenant) (any, error) { return nil, errNotBuilt }
func (s *Server) diffData(*http.Request, *Tenant) (any, error)    { return nil, errNotBuilt }
func (s *Server) whatIfData(*http.Request, *Tenant) (any, error)  { return nil, errNotBuilt }
func (s *Server) whatIfDownload(http.ResponseWriter, *http.Request, *Tenant) error {
	return errNotBuilt
}
