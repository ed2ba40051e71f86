package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// RenderCapture writes captured blocks as formatted HCL: a header of comments (where from, what
// was not captured and why), then each block after its comment. The file is built from hclwrite
// tokens only: a host string reaches it as a quoted literal (hclwrite escapes quotes, newlines,
// control characters and `${`) or as a comment line (split at every line break, control
// characters escaped). The result is parsed again and must hold exactly the blocks given, with
// exactly their values and nothing else; if not, RenderCapture fails and nothing is written.
func RenderCapture(label string, at time.Time, blocks []resources.CapturedBlock, notes []string) ([]byte, error) {
	blocks = slices.Clone(blocks)
	rank := func(t string) int {
		if i := slices.Index(resources.CaptureOrder, t); i >= 0 {
			return i
		}
		return len(resources.CaptureOrder)
	}
	sort.SliceStable(blocks, func(i, j int) bool {
		if ri, rj := rank(blocks[i].Type), rank(blocks[j].Type); ri != rj {
			return ri < rj
		}
		return blocks[i].Type < blocks[j].Type
	})
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	header := []string{
		fmt.Sprintf("Captured by `sparkform capture` from %s at %s.", label, english.Time(at)),
		"Only read: nothing on that host was changed.",
		"",
		"This file reproduces that host's settings on OTHER hosts, so it has no host blocks: put it in",
		"a configuration directory beside the host blocks (hosts.hcl) of the hosts to set up, review it,",
		"then `sparkform plan` and `sparkform apply`. `sparkform plan` shows the captured host itself as",
		"converged when it keeps these settings across reboots.",
		"",
		"Not captured:",
		"- host blocks: addresses, users and keys belong to the hosts this file is applied to.",
	}
	for _, n := range notes {
		header = append(header, "- "+n)
	}
	if len(blocks) == 0 {
		header = append(header, "", "Nothing was captured.")
	}
	body.AppendUnstructuredTokens(commentTokens(header))
	for _, b := range blocks {
		body.AppendNewline()
		if b.Comment != "" {
			body.AppendUnstructuredTokens(commentTokens([]string{b.Comment}))
		}
		blk := body.AppendNewBlock(b.Type, []string{b.Name})
		for _, a := range b.Attrs {
			blk.Body().SetAttributeValue(a.Name, a.Value)
		}
	}
	src := hclwrite.Format(f.Bytes())
	if err := checkRendered(src, blocks); err != nil {
		return nil, fmt.Errorf("capture: the rendered HCL is not what was captured (refusing to write it): %w", err)
	}
	return src, nil
}

// commentTokens writes text as # comments: every line break starts a new comment line (so no host
// string can end a comment and start a block), control characters are escaped, long lines wrap
// at word boundaries.
func commentTokens(texts []string) hclwrite.Tokens {
	var lines []string
	for _, t := range texts {
		for _, l := range splitLines(t) {
			lines = append(lines, termsafe.Line(l))
		}
	}
	var wrapped []string
	for _, l := range lines {
		indent := ""
		if strings.HasPrefix(l, "- ") {
			indent = "  "
		}
		for len(l) > 98 {
			cut := strings.LastIndexByte(l[:98], ' ')
			if cut <= len(indent) {
				break
			}
			wrapped = append(wrapped, l[:cut])
			l = indent + l[cut+1:]
		}
		wrapped = append(wrapped, l)
	}
	var toks hclwrite.Tokens
	for _, l := range wrapped {
		text := "#"
		if l != "" {
			text += " " + l
		}
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenComment, Bytes: []byte(text + "\n")})
	}
	return toks
}

// splitLines splits at every line break (\n or \r\n); other breaking characters (\r, U+2028)
// are escaped by termsafe.Line.
func splitLines(s string) []string {
	return strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n")
}

// checkRendered parses src and compares it with the blocks meant: the same blocks in the same
// order, each with its one label, exactly the attributes given with equal values, no nested
// blocks and nothing at the top level but these blocks. Values must be literals (no variable,
// function or template reference can evaluate without a context).
func checkRendered(src []byte, want []resources.CapturedBlock) error {
	for _, w := range want {
		if !hclsyntax.ValidIdentifier(w.Type) || !hclsyntax.ValidIdentifier(w.Name) {
			return fmt.Errorf("block %q %q: type and name must be identifiers", w.Type, w.Name)
		}
	}
	f, diags := hclsyntax.ParseConfig(src, "captured.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		return diags
	}
	body := f.Body.(*hclsyntax.Body)
	if len(body.Attributes) > 0 {
		for _, a := range body.Attributes {
			return fmt.Errorf("%s: top-level attribute %q", a.SrcRange, a.Name)
		}
	}
	if len(body.Blocks) != len(want) {
		return fmt.Errorf("%s parsed, %d captured", english.Plural(len(body.Blocks), "block"), len(want))
	}
	for i, b := range body.Blocks {
		w := want[i]
		if b.Type != w.Type || len(b.Labels) != 1 || b.Labels[0] != w.Name {
			return fmt.Errorf("%s: block %s %q, captured %s %q", b.DefRange(), b.Type, b.Labels, w.Type, w.Name)
		}
		if len(b.Body.Blocks) > 0 {
			return fmt.Errorf("%s: nested block %s in %s.%s", b.Body.Blocks[0].DefRange(), b.Body.Blocks[0].Type, w.Type, w.Name)
		}
		if len(b.Body.Attributes) != len(w.Attrs) {
			return fmt.Errorf("%s: %s.%s has %s, captured %d", b.DefRange(), w.Type, w.Name, english.Plural(len(b.Body.Attributes), "attribute"), len(w.Attrs))
		}
		for _, a := range w.Attrs {
			got, ok := b.Body.Attributes[a.Name]
			if !ok {
				return fmt.Errorf("%s: %s.%s lacks %s", b.DefRange(), w.Type, w.Name, a.Name)
			}
			v, diags := got.Expr.Value(nil)
			if diags.HasErrors() {
				return fmt.Errorf("%s.%s.%s: %w", w.Type, w.Name, a.Name, diags)
			}
			if !sameValue(v, a.Value) {
				return fmt.Errorf("%s: %s.%s.%s reads back as %#v, captured %#v", got.SrcRange, w.Type, w.Name, a.Name, v, a.Value)
			}
		}
	}
	return nil
}

// sameValue: got (as parsed: tuples and objects) equals want once converted to want's type.
func sameValue(got, want cty.Value) bool {
	c, err := convert.Convert(got, want.Type())
	if err != nil || !c.IsWhollyKnown() || !want.IsWhollyKnown() {
		return false
	}
	return c.Equals(want).True()
}
