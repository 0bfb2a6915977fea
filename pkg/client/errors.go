package client

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Error is a non-200 answer of the server.
type Error struct {
	// Endpoint is the path called, below the tenant (e.g.
	// "access/v1/evaluation").
	Endpoint string
	// StatusCode is the HTTP status.
	StatusCode int
	// Message is the server's message ({"error": message}), or the start
	// of the body when it was not one.
	Message string
	// Field and Reason split Message when it names a request field, as
	// in "subject.id: required" (Field "subject.id", Reason "required");
	// otherwise Field is "" and Reason is Message.
	Field, Reason string
	// Revision is the Gatehouse-Revision header of the answer.
	Revision string
	// RetryAfter is the server's Retry-After (0 without one).
	RetryAfter time.Duration
	// Attempts is how many requests were sent.
	Attempts int
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gatehouse: ")
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	b.WriteString(strconv.Itoa(e.StatusCode))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Attempts > 1 {
		b.WriteString(" (after ")
		b.WriteString(strconv.Itoa(e.Attempts))
		b.WriteString(" attempts)")
	}
	return b.String()
}

// Temporary reports whether the status may change by retrying later (429,
// 503).
func (e *Error) Temporary() bool { return retryable(e.StatusCode) }

func retryable(status int) bool { return status == 429 || status == 503 }

// maxMessage bounds what is kept of a body that is not an error object.
const maxMessage = 256

// newError builds the Error of an answer's status and body.
func newError(endpoint string, status int, body []byte) *Error {
	e := &Error{Endpoint: endpoint, StatusCode: status}
	var eb struct {
		Error *string `json:"error"`
	}
	if json.Unmarshal(body, &eb) == nil && eb.Error != nil {
		e.Message = *eb.Error
	} else {
		e.Message = shortPrefix(strings.TrimSpace(string(body)), maxMessage)
	}
	e.Field, e.Reason = splitMessage(e.Message)
	return e
}

// splitMessage splits "field.path[0]: reason" into its field and reason;
// a message whose prefix is not a field path is all reason.
func splitMessage(msg string) (field, reason string) {
	f, r, ok := strings.Cut(msg, ": ")
	if !ok || f == "" || !isFieldPath(f) {
		return "", msg
	}
	return f, r
}

// isFieldPath accepts the paths the server names fields with:
// identifiers joined by dots, with [n] indexes, and quoted keys.
func isFieldPath(s string) bool {
	if strings.ContainsAny(s, " \t\n") && !strings.Contains(s, `"`) {
		return false
	}
	c := s[0]
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

// ValidationError is a request the client refused to send because the
// server would reject it. It names the field; Value is at most a short
// prefix of the offending value.
type ValidationError struct {
	Field, Reason, Value string
}

func (e *ValidationError) Error() string {
	s := "gatehouse: invalid request: " + e.Field + ": " + e.Reason
	if e.Value != "" {
		s += " (" + strconv.Quote(e.Value) + ")"
	}
	return s
}

// ErrMalformedResponse is wrapped by the errors of 200 answers the client
// could not read (not JSON, or lacking the decision): no decision.
var ErrMalformedResponse = errors.New("malformed response")

// shortPrefix returns at most n bytes of s (on a rune boundary), marked
// with "..." when cut.
func shortPrefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !runeStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

func runeStart(b byte) bool { return b&0xC0 != 0x80 }
