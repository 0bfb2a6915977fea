package main

import (
	"errors"
	"testing"
)

func TestParseCgroupMemoryLimit(t *testing.T) {
	tests := map[string]struct {
		in   string
		want int64
	}{
		"v2 limit":          {in: "1073741824\n", want: 1 << 30},
		"v2 unlimited":      {in: "max\n", want: 0},
		"v1 unlimited":      {in: "9223372036854771712\n", want: 0},
		"v1 limit":          {in: "536870912", want: 512 << 20},
		"empty":             {in: "", want: 0},
		"garbage":           {in: "lots", want: 0},
		"zero":              {in: "0", want: 0},
		"negative":          {in: "-1", want: 0},
		"surrounding space": {in: "  268435456  ", want: 256 << 20},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := parseCgroupMemoryLimit(tc.in); got != tc.want {
				t.Errorf("parseCgroupMemoryLimit(%q) = %d, want %d", tc.in, got, tc.want)
			}
		})
	}
}

func TestContainerMemoryLimit(t *testing.T) {
	files := func(m map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			if s, ok := m[name]; ok {
				return []byte(s), nil
			}
			return nil, errors.New("no such file")
		}
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := map[string]struct {
		env   map[string]string
		files map[string]string
		want  int64
	}{
		"cgroup v2: 90% of the limit": {
			files: map[string]string{"/sys/fs/cgroup/memory.max": "1073741800"},
			want:  1073741800 / 100 * 90,
		},
		"cgroup v1": {
			files: map[string]string{"/sys/fs/cgroup/memory/memory.limit_in_bytes": "2000000000"},
			want:  1800000000,
		},
		"v2 unlimited falls through to v1": {
			files: map[string]string{"/sys/fs/cgroup/memory.max": "max", "/sys/fs/cgroup/memory/memory.limit_in_bytes": "1000000000"},
			want:  900000000,
		},
		"no limit anywhere": {
			files: map[string]string{"/sys/fs/cgroup/memory.max": "max"},
			want:  0,
		},
		"not in a container": {want: 0},
		"GOMEMLIMIT set by the user wins": {
			env:   map[string]string{"GOMEMLIMIT": "300MiB"},
			files: map[string]string{"/sys/fs/cgroup/memory.max": "1073741824"},
			want:  0,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := containerMemoryLimit(env(tc.env), files(tc.files)); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}
