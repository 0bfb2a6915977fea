package controllers

import (
	"strings"
	"testing"
)

func TestShardServes(t *testing.T) {
	labelled := func(v string) map[string]string { return map[string]string{ShardLabel: v, "team": "x"} }
	tests := map[string]struct {
		shard  Shard
		labels map[string]string
		want   bool
	}{
		"unsharded serves an unlabelled namespace":        {Shard{}, nil, true},
		"unsharded serves a namespace labelled for a":     {Shard{}, labelled("a"), true},
		"shard a serves its namespace":                    {Shard{Name: "a"}, labelled("a"), true},
		"shard a does not serve b's namespace":            {Shard{Name: "a"}, labelled("b"), false},
		"shard a does not serve an unlabelled namespace":  {Shard{Name: "a"}, map[string]string{"team": "x"}, false},
		"shard a does not serve a namespace with no map":  {Shard{Name: "a"}, nil, false},
		"default shard a serves an unlabelled namespace":  {Shard{Name: "a", Default: true}, nil, true},
		"default shard a serves an empty label value":     {Shard{Name: "a", Default: true}, labelled(""), true},
		"non-default shard b leaves an empty label value": {Shard{Name: "b"}, labelled(""), false},
		"default shard a does not serve b's namespace":    {Shard{Name: "a", Default: true}, labelled("b"), false},
		"default shard a serves its own namespace":        {Shard{Name: "a", Default: true}, labelled("a"), true},
		"a label naming no shard is served by none":       {Shard{Name: "a", Default: true}, labelled("zz"), false},
		"values compare exactly, not by case":             {Shard{Name: "a"}, labelled("A"), false},
		"the label key must match exactly":                {Shard{Name: "a"}, map[string]string{"gatehouse.dev/shard": "a"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.shard.Serves(tc.labels); got != tc.want {
				t.Errorf("%+v.Serves(%v) = %v, want %v", tc.shard, tc.labels, got, tc.want)
			}
		})
	}
}

// TestShardsServeEachTenantOnce checks the rule's point: with one default
// shard, every namespace is served by exactly one of the shards, and a label
// naming no shard by none.
func TestShardsServeEachTenantOnce(t *testing.T) {
	shards := []Shard{{Name: "a", Default: true}, {Name: "b"}, {Name: "c"}}
	tests := map[string]struct {
		labels map[string]string
		want   string // the serving shard, "" for none
	}{
		"unlabelled":         {nil, "a"},
		"empty value":        {map[string]string{ShardLabel: ""}, "a"},
		"labelled a":         {map[string]string{ShardLabel: "a"}, "a"},
		"labelled b":         {map[string]string{ShardLabel: "b"}, "b"},
		"labelled c":         {map[string]string{ShardLabel: "c"}, "c"},
		"labelled a typo":    {map[string]string{ShardLabel: "d"}, ""},
		"other labels alone": {map[string]string{"env": "prod"}, "a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var serving []string
			for _, s := range shards {
				if s.Serves(tc.labels) {
					serving = append(serving, s.Name)
				}
			}
			want := []string{tc.want}
			if tc.want == "" {
				want = nil
			}
			if strings.Join(serving, ",") != strings.Join(want, ",") {
				t.Errorf("served by %v, want %v", serving, want)
			}
		})
	}
}

func TestShardValidate(t *testing.T) {
	tests := map[string]struct {
		shard Shard
		err   string // substring; "" for valid
	}{
		"unsharded":                 {Shard{}, ""},
		"a DNS label":               {Shard{Name: "eu-1"}, ""},
		"default shard":             {Shard{Name: "a", Default: true}, ""},
		"default without a name":    {Shard{Default: true}, "--shard-default needs --shard"},
		"upper case":                {Shard{Name: "A"}, `--shard "A"`},
		"a dot":                     {Shard{Name: "a.b"}, `--shard "a.b"`},
		"longer than a label value": {Shard{Name: strings.Repeat("a", 64)}, "--shard"},
		"leading dash":              {Shard{Name: "-a"}, `--shard "-a"`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.shard.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

func TestNotServedBecause(t *testing.T) {
	a := Shard{Name: "a"}
	tests := map[string]struct {
		m    membership
		want string
	}{
		"namespace unknown": {membership{}, "not known to shard a"},
		"unlabelled":        {membership{found: true}, "no " + ShardLabel + " label and shard a is not the default shard"},
		"labelled b":        {membership{found: true, assigned: "b"}, ShardLabel + "=b assigns it to another shard than a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := tc.m.notServedBecause(a); !strings.Contains(got, tc.want) {
				t.Errorf("%q, want it to contain %q", got, tc.want)
			}
		})
	}
}
