package authz

import (
	"encoding/base64"
	"net/http"
	"sort"
	"strings"
)

// Search results and paging (AuthZEN 1.0 search APIs).
type (
	subjectResult struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	actionResult struct {
		Name string `json:"name"`
	}
	resourceResult struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	pageOut struct {
		NextToken string `json:"next_token"`
		Count     int    `json:"count"`
		Total     int    `json:"total"`
	}
	searchOut[T any] struct {
		Results []T            `json:"results"`
		Page    pageOut        `json:"page"`
		Context map[string]any `json:"context"`
	}
)

// Page tokens are opaque to clients. Subject and action searches page by
// key (the last result returned), so a snapshot change between pages
// neither repeats nor skips results that exist in both; resource search
// pages by position in the caller's own candidate list.
func encodeToken(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeToken(t string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	return string(b), err == nil
}

func (h *Handler) pageLimit(req *request) int {
	n := req.pageLimit
	if n <= 0 {
		n = h.opts.DefaultPageLimit
	}
	if n > h.opts.MaxPageLimit {
		n = h.opts.MaxPageLimit
	}
	return n
}

// pageByKey pages sorted keys after the token's key.
func (h *Handler) pageByKey(w http.ResponseWriter, tenant string, req *request, keys []string) (page []string, out pageOut, ok bool) {
	start := 0
	if req.pageToken != "" {
		after, valid := decodeToken(req.pageToken)
		if !valid || !strings.HasPrefix(after, "k:") {
			h.badRequest(w, tenant, "page.token: invalid")
			return nil, out, false
		}
		after = after[2:]
		start = sort.Search(len(keys), func(i int) bool { return keys[i] > after })
	}
	limit := h.pageLimit(req)
	end := min(start+limit, len(keys))
	page = keys[start:end]
	out = pageOut{Count: len(page), Total: len(keys)}
	if end < len(keys) && len(page) > 0 {
		out.NextToken = encodeToken("k:" + page[len(page)-1])
	}
	return page, out, true
}
