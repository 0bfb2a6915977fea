package jsonscan

import (
	"math"
	"strconv"
)

// number scans a JSON number and returns its text.
func (s *Scanner) number(field string) ([]byte, bool) {
	b := s.b
	start := s.i
	i := start
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		s.i = i
		return nil, s.syntax(field)
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return nil, s.syntax(field)
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			s.i = i
			return nil, s.syntax(field)
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	s.i = i
	return b[start:i], true
}

// float reads a number as float64, as encoding/json does for interface
// values. A number out of float64's range is an error, and so is one whose
// decimal value the float64 does not keep (see exactFloat): CEL would
// compare 5000.0000000000001 equal to 5000.
func (s *Scanner) float(field string) (float64, bool) {
	txt, ok := s.number(field)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(view(txt), 64)
	if err != nil {
		return 0, s.Fail(field, "number "+shortNumber(txt)+" out of range")
	}
	if !exactFloat(txt, f) {
		return 0, s.Fail(field, "number has more precision than a 64-bit float can hold; send it as a string")
	}
	return f, true
}

// shortNumber renders a JSON number for an error message: its first
// shortValueMax bytes, with "…" when cut (number text needs no escaping).
func shortNumber(txt []byte) string {
	if len(txt) <= shortValueMax {
		return string(txt)
	}
	return string(txt[:shortValueMax]) + "…"
}

// exactFloat reports whether f, parsed from the JSON number txt, stands for
// the same decimal value as txt: the shortest decimal that round-trips to f
// (strconv's 'g', -1 formatting) has the value of txt. 0.1 or 1e23 are
// exact in this sense; 5000.0000000000001 (which is 5000), 2^53+1 and
// 1e-400 (which underflows to 0) are not. Zero (and -0) is exact.
func exactFloat(txt []byte, f float64) bool {
	// A decimal of at most 15 significant digits (DBL_DIG) survives the
	// round trip through a normal float64, so the shortest formatting is
	// that decimal; subnormals have fewer digits of precision. The first
	// test counts all mantissa digits, which is cheaper than finding the
	// significant ones and settles the numbers requests carry.
	normal := math.Abs(f) >= 0x1p-1022
	if normal {
		digits := 0
		for _, c := range txt {
			if c == 'e' || c == 'E' {
				break
			}
			if c != '.' && c != '-' {
				digits++
			}
		}
		if digits <= 15 {
			return true
		}
	}
	d := parseDecimal(txt)
	if d.zero() {
		return true
	}
	if f == 0 {
		return false // underflow
	}
	if d.sig <= 15 && normal {
		return true
	}
	var buf [32]byte
	return d.equal(parseDecimal(strconv.AppendFloat(buf[:0], f, 'g', -1, 64)))
}

// decimal is the value of a JSON number as sign × 0.D × 10^exp, where D
// are the significant digits: mant[first:last+1] without its '.', if any.
type decimal struct {
	mant        []byte // the number without sign and exponent
	first, last int    // indexes in mant of the first and last nonzero digit; first < 0 for zero
	sig         int    // number of significant digits
	exp         int64
	neg         bool
}

func (d *decimal) zero() bool { return d.first < 0 }

// parseDecimal reads syntactically valid JSON number text (which also
// covers strconv's 'g' output, e.g. 1e+21). Exponents saturate at ±1e15:
// a body cannot hold enough digits to bring such a number back into
// float64 range, so it is never compared.
func parseDecimal(txt []byte) decimal {
	d := decimal{first: -1}
	i := 0
	if i < len(txt) && txt[i] == '-' {
		d.neg = true
		i++
	}
	j := i
	for j < len(txt) && txt[j] != 'e' && txt[j] != 'E' {
		j++
	}
	d.mant = txt[i:j]
	var e int64
	if j < len(txt) {
		k := j + 1
		eneg := false
		if k < len(txt) && (txt[k] == '+' || txt[k] == '-') {
			eneg = txt[k] == '-'
			k++
		}
		for ; k < len(txt); k++ {
			if e < 1e15 {
				e = e*10 + int64(txt[k]-'0')
			}
		}
		if eneg {
			e = -e
		}
	}
	point := len(d.mant) // digits before the point
	for k, c := range d.mant {
		switch {
		case c == '.':
			point = k
		case c != '0':
			if d.first < 0 {
				d.first = k
			}
			d.last = k
		}
	}
	if d.first < 0 {
		return d
	}
	d.sig = d.last - d.first + 1
	if d.first < point && point < d.last {
		d.sig-- // the point is not a digit
	}
	if d.first < point {
		d.exp = int64(point-d.first) + e // D.DD: digits before the point
	} else {
		d.exp = -int64(d.first-point-1) + e // 0.00D: zeros after the point
	}
	return d
}

// equal compares the values of two nonzero decimals.
func (d *decimal) equal(o decimal) bool {
	if o.zero() || d.neg != o.neg || d.exp != o.exp || d.sig != o.sig {
		return false
	}
	i, j := d.first, o.first
	for n := 0; n < d.sig; n++ {
		if d.mant[i] == '.' {
			i++
		}
		if o.mant[j] == '.' {
			j++
		}
		if d.mant[i] != o.mant[j] {
			return false
		}
		i++
		j++
	}
	return true
}

// NonNegInt reads a non-negative integral number that fits an int32.
func (s *Scanner) NonNegInt(field string) (int, bool) {
	if c := s.Peek(); c != '-' && (c < '0' || c > '9') {
		return 0, s.Expected(field, "number")
	}
	f, ok := s.float(field)
	if !ok {
		return 0, false
	}
	if f < 0 || f != math.Trunc(f) || f > math.MaxInt32 {
		return 0, s.Fail(field, "expected a non-negative integer")
	}
	return int(f), true
}
