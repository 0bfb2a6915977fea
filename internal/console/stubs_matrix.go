package console

// Placeholders until the matrix and field pages land (owner: the matrix
// work; delete this file when they do).

import "net/http"

func (s *Server) matrixData(*http.Request, *Tenant) (any, error) { return nil, errNotBuilt }
func (s *Server) matrixCSV(http.ResponseWriter, *http.Request, *Tenant) error {
	return errNotBuilt
}
func (s *Server) fieldsData(*http.Request, *Tenant) (any, error) { return nil, errNotBuilt }
