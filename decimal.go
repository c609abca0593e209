package auditlog

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
)

// Decimal text: the canonical form that equality compares (canonical.go's
// equalValues) and the scaled form a decimal column's value is stored with.

// canonicalDecimal writes a decimal number without leading zeros in the integer
// part or trailing zeros in the fraction: "0.170", "+0.17" and "00.1700" all
// become "0.17", "-0.0" becomes "0". It reports false for text that is not a
// plain decimal number. Two decimals are equal as stored when their canonical
// forms are (see equalValues).
func canonicalDecimal(s string) (json.Number, bool) {
	d, ok := parseDecimal(s)
	if !ok {
		return "", false
	}
	if d.exp != "" {
		return d.exp, true
	}
	d.frac = strings.TrimRight(d.frac, "0")
	return json.Number(d.text()), true
}

// scaledDecimal is the stored form of a decimal column's text: the number
// with the scale the database gave it ("12500.50" stays "12500.50", "0.170"
// stays "0.170"), written as a JSON number: no "+" sign or leading zeros in
// the integer part, no sign on zero; a number with an exponent is written
// canonically. It reports false for text that is not a plain decimal number.
func scaledDecimal(s string) (json.Number, bool) {
	d, ok := parseDecimal(s)
	if !ok {
		return "", false
	}
	if d.exp != "" {
		return d.exp, true
	}
	return json.Number(d.text()), true
}

// decimal is a parsed decimal number: its sign, integer digits without
// leading zeros ("0" for none) and fraction digits as written, or, for a
// number written with an exponent, its canonical form in exp.
type decimal struct {
	neg           bool
	intPart, frac string
	exp           json.Number
}

func parseDecimal(s string) (decimal, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return decimal{}, false
	}
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return decimal{}, false
		}
		return decimal{exp: json.Number(strconv.FormatFloat(f, 'g', -1, 64))}, true
	}
	var d decimal
	switch s[0] {
	case '-':
		d.neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	if intPart == "" && frac == "" || !digitsOnly(intPart) || !digitsOnly(frac) {
		return decimal{}, false
	}
	d.intPart, d.frac = strings.TrimLeft(intPart, "0"), frac
	if d.intPart == "" {
		d.intPart = "0"
	}
	return d, true
}

// text writes d as a JSON number; zero has no sign.
func (d decimal) text() string {
	out := d.intPart
	if d.frac != "" {
		out += "." + d.frac
	}
	if d.neg && strings.Trim(out, "0.") != "" {
		out = "-" + out
	}
	return out
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
