package jsonscan

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/authz/jsonscan/jsonscantest"
)

// FuzzNumberExact compares exactFloat (with its 15-digit fast path)
// with the math/big reference on every JSON number.
func FuzzNumberExact(f *testing.F) {
	for _, s := range []string{"0", "-0", "0.1", "1e3", "5000.0000000000001", "9007199254740993", "1e-400", "5e-324",
		"4.9406564584124654e-324", "2.2250738585072011e-308", "123456789012345", "1234567890123456", "1.7976931348623157e308",
		"0.30000000000000004", "1e23", "8.98846567431158e307", "1.0000000000000002", "100000000000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var sc Scanner
		sc.Reset([]byte(s), 1)
		txt, ok := sc.number("")
		if !ok || sc.i != len(s) {
			return // not one JSON number
		}
		if len(s) > 2000 {
			return // big.Rat of a long exponent is slow
		}
		if e := strings.IndexAny(s, "eE"); e >= 0 {
			if n, err := strconv.Atoi(strings.TrimLeft(s[e+1:], "+-")); err != nil || n > 5000 {
				return
			}
		}
		fl, err := strconv.ParseFloat(s, 64)
		got := err == nil && exactFloat(txt, fl)
		if want := jsonscantest.RefExact(t, s); got != want {
			t.Fatalf("%s: exactFloat %v, math/big %v", s, got, want)
		}
		// The decoder agrees.
		sc.Reset([]byte(s), 1)
		v, ok := sc.Value("n")
		if ok != got {
			t.Fatalf("%s: value ok=%v err=%v", s, ok, sc.err)
		}
		if ok {
			if v.(float64) != fl {
				t.Fatalf("%s: %v != %v", s, v, fl)
			}
			var ref float64
			if err := json.Unmarshal([]byte(s), &ref); err != nil || ref != fl {
				t.Fatalf("%s: encoding/json %v %v", s, ref, err)
			}
		}
	})
}

// TestNumberExactRandom compares exactFloat with the math/big reference on
// numbers near float64 values: their shortest, 15- to 20-digit, and
// last-digit-perturbed renderings, over the whole exponent range.
func TestNumberExactRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 0
	check := func(s string) {
		n++
		f, err := strconv.ParseFloat(s, 64)
		got := err == nil && exactFloat([]byte(s), f)
		if want := jsonscantest.RefExact(t, s); got != want {
			t.Fatalf("%s: exactFloat %v, math/big %v", s, got, want)
		}
	}
	for i := 0; i < 3000; i++ {
		f := math.Float64frombits(rng.Uint64())
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		switch i % 4 {
		case 0: // money-like values
			f = float64(rng.Int64N(1<<60)) / float64(int64(1)<<rng.IntN(60))
		case 1: // subnormals
			f = math.Float64frombits(rng.Uint64() >> 12)
		}
		check(strconv.FormatFloat(f, 'g', -1, 64))
		for prec := 15; prec <= 20; prec++ {
			s := strconv.FormatFloat(f, 'e', prec-1, 64)
			check(s)
			// Perturb the last mantissa digit.
			e := strings.IndexByte(s, 'e')
			d := s[e-1]
			if d < '9' {
				check(s[:e-1] + string(d+1) + s[e:])
			}
			if d > '0' {
				check(s[:e-1] + string(d-1) + s[e:])
			}
		}
	}
	t.Logf("%d numbers", n)
}

func BenchmarkExactFloat(b *testing.B) {
	nums := [][]byte{[]byte("1200.5"), []byte("19.99"), []byte("-114.0719"), []byte("3"), []byte("0.30000000000000004"), []byte("1e-7")}
	fs := make([]float64, len(nums))
	for i, n := range nums {
		fs[i], _ = strconv.ParseFloat(string(n), 64)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		j := i % len(nums)
		if !exactFloat(nums[j], fs[j]) {
			b.Fatal(string(nums[j]))
		}
	}
}
