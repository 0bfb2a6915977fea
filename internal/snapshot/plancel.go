package snapshot

import (
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// Translating a condition left over by partial evaluation into a Filter.

var cmpOps = map[string]string{
	operators.Equals: OpEq, operators.Less: OpLt, operators.LessEquals: OpLe,
	operators.Greater: OpGt, operators.GreaterEquals: OpGe,
}

var flipped = map[string]string{OpEq: OpEq, OpLt: OpGt, OpLe: OpGe, OpGt: OpLt, OpGe: OpLe}

// translate maps the CEL subset with a two-valued meaning (no negation, no
// !=: an error or missing property is simply false there and in SQL) to a
// Filter.
func translate(e celast.Expr) (*Filter, bool) {
	switch e.Kind() {
	case celast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok {
			if b {
				return fTrue, true
			}
			return fFalse, true
		}
		return nil, false
	case celast.SelectKind:
		// A bare property used as a bool, e.g. resource.properties.urgent.
		if prop, ok := property(e); ok {
			return &Filter{Op: OpEq, Property: prop, Value: true}, true
		}
		return nil, false
	case celast.CallKind:
	default:
		return nil, false
	}
	call := e.AsCall()
	args := call.Args()
	switch fn := call.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr:
		var kids []*Filter
		for _, a := range args {
			k, ok := translate(a)
			if !ok {
				return nil, false
			}
			kids = append(kids, k)
		}
		if fn == operators.LogicalAnd {
			return and(kids...), true
		}
		return or(kids...), true
	case operators.In:
		prop, ok := property(args[0])
		if !ok || args[1].Kind() != celast.ListKind {
			return nil, false
		}
		var vals []any
		for _, el := range args[1].AsList().Elements() {
			v, ok := literal(el)
			if !ok {
				return nil, false
			}
			vals = append(vals, v)
		}
		if len(vals) == 0 {
			return fFalse, true
		}
		return &Filter{Op: OpIn, Property: prop, Values: vals}, true
	default:
		op, ok := cmpOps[fn]
		if !ok || len(args) != 2 {
			return nil, false
		}
		if prop, ok := property(args[0]); ok {
			if v, ok := literal(args[1]); ok {
				return &Filter{Op: op, Property: prop, Value: v}, true
			}
		}
		if prop, ok := property(args[1]); ok {
			if v, ok := literal(args[0]); ok {
				return &Filter{Op: flipped[op], Property: prop, Value: v}, true
			}
		}
	}
	return nil, false
}

// property recognises resource.properties.X, resource.properties["X"] and
// resource.id.
func property(e celast.Expr) (string, bool) {
	var operand celast.Expr
	var name string
	switch e.Kind() {
	case celast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return "", false
		}
		operand, name = sel.Operand(), sel.FieldName()
	case celast.CallKind:
		c := e.AsCall()
		if c.FunctionName() != operators.Index || len(c.Args()) != 2 || c.Args()[1].Kind() != celast.LiteralKind {
			return "", false
		}
		str, ok := c.Args()[1].AsLiteral().(types.String)
		if !ok {
			return "", false
		}
		operand, name = c.Args()[0], string(str)
	default:
		return "", false
	}
	if operand.Kind() == celast.IdentKind && operand.AsIdent() == "resource" {
		if name == "id" {
			return "id", true
		}
		return "", false
	}
	if operand.Kind() == celast.SelectKind {
		in := operand.AsSelect()
		if !in.IsTestOnly() && in.FieldName() == "properties" && in.Operand().Kind() == celast.IdentKind && in.Operand().AsIdent() == "resource" {
			return name, true
		}
	}
	return "", false
}

func literal(e celast.Expr) (any, bool) {
	if e.Kind() != celast.LiteralKind {
		return nil, false
	}
	switch v := e.AsLiteral().(type) {
	case types.String:
		return string(v), true
	case types.Int:
		return int64(v), true
	case types.Uint:
		return uint64(v), true
	case types.Double:
		return float64(v), true
	case types.Bool:
		return bool(v), true
	}
	var _ ref.Val
	return nil, false
}
