package client

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// tokenSource supplies the bearer token of each request.
type tokenSource interface {
	get(force bool) (string, error)
}

type staticToken string

func (s staticToken) get(bool) (string, error) { return string(s), nil }

// tokenRecheck is how often a token file is read again even when its
// modification time and size look unchanged.
const tokenRecheck = 30 * time.Second

// maxTokenBytes bounds a token file.
const maxTokenBytes = 64 << 10

// fileToken reads a token file again when it changes: a stat per request,
// a read when the modification time or size differ from the last read (or
// after tokenRecheck).
type fileToken struct {
	path string

	mu     sync.Mutex
	token  string
	mtime  time.Time
	size   int64
	readAt time.Time
}

func (f *fileToken) get(force bool) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fi, err := os.Stat(f.path)
	if err != nil {
		if f.token != "" && !force {
			// Keep the last token while the file is being swapped.
			return f.token, nil
		}
		return "", fmt.Errorf("gatehouse: token file: %w", err)
	}
	if !force && f.token != "" && fi.ModTime().Equal(f.mtime) && fi.Size() == f.size && time.Since(f.readAt) < tokenRecheck {
		return f.token, nil
	}
	if fi.Size() > maxTokenBytes {
		return "", fmt.Errorf("gatehouse: token file %s: over %d bytes", f.path, maxTokenBytes)
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		if f.token != "" && !force {
			return f.token, nil
		}
		return "", fmt.Errorf("gatehouse: token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", errors.New("gatehouse: token file " + f.path + " is empty")
	}
	f.token, f.mtime, f.size, f.readAt = tok, fi.ModTime(), fi.Size(), time.Now()
	return tok, nil
}

// changed reads the file again and reports whether the token changed.
func (f *fileToken) changed() bool {
	f.mu.Lock()
	old := f.token
	f.mu.Unlock()
	tok, err := f.get(true)
	return err == nil && tok != old
}
