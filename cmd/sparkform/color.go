package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// style colours text the way Terraform does on a terminal (+ green, ~ yellow, - red, headings
// bold) and is plain everywhere else: with -no-color, with NO_COLOR set (no-color.org), with
// TERM=dumb, and whenever the output is not a terminal (a file, a pipe, /dev/null).
type style struct{ on bool }

// styleFor decides colour for output written to w.
func styleFor(w io.Writer, noColor bool) style {
	if noColor || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return style{}
	}
	return style{on: isTerminal(w)}
}

// isTerminal reports whether w is a terminal (a character device is not enough: /dev/null is one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (s style) wrap(code, text string) string {
	if !s.on || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

func (s style) bold(t string) string   { return s.wrap("1", t) }
func (s style) green(t string) string  { return s.wrap("32", t) }
func (s style) yellow(t string) string { return s.wrap("33", t) }
func (s style) red(t string) string    { return s.wrap("31", t) }
func (s style) dim(t string) string    { return s.wrap("2", t) }

// symbol colours a plan symbol (+ ~ - -/+) as Terraform does.
func (s style) symbol(sym string) string {
	switch sym {
	case "+":
		return s.green(sym)
	case "~":
		return s.yellow(sym)
	case "-":
		return s.red(sym)
	case "-/+":
		return s.red("-") + "/" + s.green("+")
	}
	return sym
}
