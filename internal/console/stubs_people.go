package console

// Placeholders until the people, explain, who-can and approvers pages land
// (owner: the people work; delete this file when they do).

import "net/http"

func (s *Server) peopleData(*http.Request, *Tenant) (any, error)    { return nil, errNotBuilt }
func (s *Server) personData(*http.Request, *Tenant) (any, error)    { return nil, errNotBuilt }
func (s *Server) explainData(*http.Request, *Tenant) (any, error)   { return nil, errNotBuilt }
func (s *Server) whoCanData(*http.Request, *Tenant) (any, error)    { return nil, errNotBuilt }
func (s *Server) approversData(*http.Request, *Tenant) (any, error) { return nil, errNotBuilt }
