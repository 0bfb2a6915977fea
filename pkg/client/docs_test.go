package client_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docsSources are the files the snippets of docs/apps.md come from, by
// fence language: the tests compile and run each of them.
var docsSources = map[string][]string{
	"go": {"example_test.go", "../../examples/apptest/app_test.go"},
	"ts": {"../../clients/typescript/examples/*.ts"},
}

var fence = regexp.MustCompile("(?s)```(go|ts)\n(.*?)```")

// Every Go and TypeScript snippet of "Calling Gatehouse from your app" is
// verbatim (up to indentation) in a file that is compiled and run, so the
// docs cannot show code that does not work.
func TestDocsSnippetsAreTested(t *testing.T) {
	doc, err := os.ReadFile("../../docs/apps.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := fence.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 4 {
		t.Fatalf("docs/apps.md has %d Go/TypeScript snippets; expected at least 4", len(blocks))
	}
	for i, b := range blocks {
		lang, snippet := b[1], trimLines(b[2])
		found := false
		for _, pattern := range docsSources[lang] {
			files, _ := filepath.Glob(pattern)
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(trimLines(string(src)), snippet) {
					found = true
				}
			}
		}
		if !found {
			first, _, _ := strings.Cut(snippet, "\n")
			t.Errorf("snippet %d (%s, starting %q) is not verbatim in %v", i+1, lang, first, docsSources[lang])
		}
	}
}

// trimLines drops each line's indentation and surrounding blank lines.
func trimLines(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "\n")
}
