package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxLineSize bounds one line of a trail, and a whole file holding one
// (pretty-printed) CloudEvents batch array.
const MaxLineSize = 16 << 20

// ReadStats counts what reading a trail met besides the records it returned.
type ReadStats struct {
	// Records is the number of records returned.
	Records int `json:"records"`
	// Skipped counts lines (or batch elements) that are not audit records:
	// other JSON logs or plain text on a shared stream, CloudEvents of
	// another type.
	Skipped int `json:"skipped"`
	// Duplicates counts records dropped because one with the same ID was
	// read before (a CloudEvent delivered twice, a trail given twice).
	Duplicates int `json:"duplicates"`
}

// Read reads the audit records of one trail: JSON lines of Records, JSON
// lines of CloudEvents 1.0 in structured mode whose data is a Record, and
// CloudEvents batch arrays (one per line, or the whole input). Lines that
// are not audit records are skipped; a malformed audit record is an error
// naming name:line. Duplicate records are dropped. name labels errors.
func Read(r io.Reader, name string) ([]Record, error) {
	rd := NewReader()
	if err := rd.ReadTrail(r, name); err != nil {
		return nil, err
	}
	return rd.Records(), nil
}

// ReadPaths reads the trails at paths: files, directories (every regular
// file inside, sorted by name, not recursing) and "-" for stdin. Records of
// all trails are returned in the order read, duplicates across trails
// dropped.
func ReadPaths(paths []string, stdin io.Reader) ([]Record, ReadStats, error) {
	rd := NewReader()
	for _, p := range paths {
		if err := rd.ReadPath(p, stdin); err != nil {
			return nil, rd.Stats(), err
		}
	}
	return rd.Records(), rd.Stats(), nil
}

// Reader accumulates the records of several trails, dropping duplicates
// across them. The zero value is not usable; call NewReader.
type Reader struct {
	records []Record
	seen    map[string]bool
	stats   ReadStats
}

// NewReader returns an empty Reader.
func NewReader() *Reader {
	return &Reader{seen: map[string]bool{}}
}

// Records returns the records read so far.
func (rd *Reader) Records() []Record { return rd.records }

// Stats returns the counts of what was read so far.
func (rd *Reader) Stats() ReadStats {
	s := rd.stats
	s.Records = len(rd.records)
	return s
}

// ReadPath reads a file, every regular file of a directory (sorted), or
// stdin for "-".
func (rd *Reader) ReadPath(path string, stdin io.Reader) error {
	if path == "-" {
		if stdin == nil {
			stdin = os.Stdin
		}
		return rd.ReadTrail(stdin, "stdin")
	}
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if !info.IsDir() {
		return rd.readFile(path)
	}
	entries, err := os.ReadDir(path) // sorted by name
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for _, de := range entries {
		p := filepath.Join(path, de.Name())
		fi, err := os.Stat(p) // follows symlinks
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := rd.readFile(p); err != nil {
			return err
		}
	}
	return nil
}

func (rd *Reader) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	return rd.ReadTrail(f, path)
}

// ReadTrail reads one trail from r; name labels errors (name:line).
func (rd *Reader) ReadTrail(r io.Reader, name string) error {
	br := bufio.NewReaderSize(r, 64<<10)
	// A whole input that is one JSON array is a batch, however it is
	// indented.
	if first, err := firstByte(br); err != nil {
		return fmt.Errorf("audit: %s: %w", name, err)
	} else if first == '[' {
		data, err := io.ReadAll(io.LimitReader(br, MaxLineSize+1))
		if err != nil {
			return fmt.Errorf("audit: %s: %w", name, err)
		}
		if len(data) <= MaxLineSize && json.Valid(data) {
			return rd.line(bytes.TrimSpace(data), name, 1)
		}
		// Several lines (one batch per line, or mixed): read them one by one.
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(data), br), 64<<10)
	}
	sc := bufio.NewScanner(br)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize)
	n := 0
	for sc.Scan() {
		n++
		if err := rd.line(bytes.TrimSpace(sc.Bytes()), name, n); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("audit: %s:%d: line longer than %d MiB", name, n+1, MaxLineSize>>20)
		}
		return fmt.Errorf("audit: %s:%d: %w", name, n+1, err)
	}
	return nil
}

// firstByte returns the first byte that is not white space, without
// consuming it (0 at the end of the input).
func firstByte(br *bufio.Reader) (byte, error) {
	for {
		b, err := br.ReadByte()
		if err == io.EOF {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return b, br.UnreadByte()
	}
}

// probe is what tells a record, a CloudEvent and another JSON line apart.
type probe struct {
	Type        string          `json:"type"`
	SpecVersion string          `json:"specversion"`
	ID          string          `json:"id"`
	Data        json.RawMessage `json:"data"`
}

// line handles one trimmed line.
func (rd *Reader) line(data []byte, name string, n int) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case '{':
		return rd.value(data, data, name, n)
	case '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(data, &elems); err != nil {
			if mentionsAudit(data) {
				return malformed(name, n, data, err)
			}
			rd.stats.Skipped++
			return nil
		}
		for _, el := range elems {
			if err := rd.value(bytes.TrimSpace(el), data, name, n); err != nil {
				return err
			}
		}
		return nil
	}
	rd.stats.Skipped++ // plain text
	return nil
}

// value handles one JSON value: a Record, a CloudEvent or anything else.
// line is the whole line, quoted (a prefix) in errors.
func (rd *Reader) value(data, line []byte, name string, n int) error {
	var p probe
	if err := json.Unmarshal(data, &p); err != nil {
		// Not a JSON object: an audit record only if it says so.
		if mentionsAudit(data) {
			return malformed(name, n, line, err)
		}
		rd.stats.Skipped++
		return nil
	}
	if p.Type != RecordType {
		rd.stats.Skipped++
		return nil
	}
	raw := data
	if p.SpecVersion != "" {
		if p.ID == "" {
			return malformed(name, n, line, errors.New("a CloudEvent without id"))
		}
		if len(p.Data) == 0 || string(p.Data) == "null" {
			return malformed(name, n, line, errors.New("a CloudEvent without data"))
		}
		raw = p.Data
	}
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		return malformed(name, n, line, err)
	}
	if rec.Type == "" {
		rec.Type = RecordType
	}
	if rec.Type != RecordType {
		return malformed(name, n, line, errors.New("data of another type"))
	}
	if rec.Event == "" {
		return malformed(name, n, line, errors.New("no event"))
	}
	if rec.Time.IsZero() {
		return malformed(name, n, line, errors.New("no time"))
	}
	id := rec.ID()
	if rd.seen[id] {
		rd.stats.Duplicates++
		return nil
	}
	rd.seen[id] = true
	rd.records = append(rd.records, rec)
	return nil
}

func mentionsAudit(data []byte) bool {
	return bytes.Contains(data, []byte(`"`+RecordType+`"`))
}

// quotePrefixLen is how much of a bad line an error quotes.
const quotePrefixLen = 40

// malformed is the error of a bad audit line: it names the file and line
// and quotes at most a short prefix of it (a trail may hold anything).
func malformed(name string, n int, line []byte, err error) error {
	return fmt.Errorf("audit: %s:%d: malformed audit record (%s): %s", name, n, reason(err), QuotePrefix(string(line), quotePrefixLen))
}

// reason describes a decoding error without quoting the values it met.
func reason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return "invalid JSON at byte " + strconv.FormatInt(syn.Offset, 10)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return "field " + QuotePrefix(typ.Field, quotePrefixLen) + " is not a " + typ.Type.String()
		}
		return "not a " + typ.Type.String()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	if strings.HasPrefix(err.Error(), "json: ") || strings.HasPrefix(err.Error(), "parsing time") {
		return "invalid field value"
	}
	return err.Error()
}

// QuotePrefix quotes at most max bytes of s (cut on a rune boundary), with
// control and non-printable characters escaped, followed by "…" when s was
// longer.
func QuotePrefix(s string, max int) string {
	cut := len(s) > max
	if cut {
		i := max
		for i > 0 && !utf8.RuneStart(s[i]) {
			i--
		}
		s = s[:i]
	}
	q := strconv.Quote(s)
	if cut {
		q += "…"
	}
	return q
}
