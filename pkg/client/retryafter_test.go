package client

import (
	"net/http"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := map[string]struct {
		v    string
		want time.Duration
	}{
		"empty":        {"", 0},
		"seconds":      {"3", 3 * time.Second},
		"zero":         {"0", 0},
		"negative":     {"-5", 0},
		"huge":         {"99999999999", 24 * time.Hour},
		"date ahead":   {now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		"date passed":  {now.Add(-time.Minute).Format(http.TimeFormat), 0},
		"garbage":      {"soon", 0},
		"spaces":       {" 2 ", 2 * time.Second},
		"RFC 850 date": {now.Add(time.Minute).Format(time.RFC850), time.Minute},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := parseRetryAfter(tc.v, now); got != tc.want {
				t.Errorf("%v, want %v", got, tc.want)
			}
		})
	}
}

func TestSplitMessage(t *testing.T) {
	tests := map[string]struct{ msg, field, reason string }{
		"field":       {"subject.id: required", "subject.id", "required"},
		"indexed":     {"evaluations[3].action.name: required", "evaluations[3].action.name", "required"},
		"quoted key":  {`columns["a b"]: not an SQL identifier`, `columns["a b"]`, "not an SQL identifier"},
		"no field":    {"no such endpoint", "", "no such endpoint"},
		"sentence":    {"request cost exceeded: try less", "", "request cost exceeded: try less"},
		"empty":       {"", "", ""},
		"colon first": {": x", "", ": x"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f, r := splitMessage(tc.msg)
			if f != tc.field || r != tc.reason {
				t.Errorf("%q %q", f, r)
			}
		})
	}
}
