package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sparkform/sparkform/internal/english"
	"github.com/sparkform/sparkform/internal/termsafe"
	"github.com/sparkform/sparkform/resources"
)

// chartGroup is one cluster of bars: one host, test, kernel and read-ahead, one bar per mode.
// Generations with the same kernel and read-ahead are pooled: the chart compares settings.
type chartGroup struct {
	host, test, kernel, readAhead string
	gens                          []int
	first                         time.Time
	cells                         map[string]*chartCell // by mode
}

type chartCell struct {
	seconds        []float64
	runs, results  int
	passed, failed int
	message        string
	last           time.Time
}

func (c *chartCell) median() (float64, bool) { return resources.Median(c.seconds) }

// Okabe–Ito colours: distinguishable with the common colour-vision deficiencies.
var svgModePalette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#F0E442"}

const svgFailedGrey = "#9a9a9a"

// chartGroups pools the rows by host, test, kernel and read-ahead, in row order (host, then time).
func chartGroups(rows []*Row) ([]*chartGroup, []string) {
	var groups []*chartGroup
	byKey := map[[4]string]*chartGroup{}
	modeSet := map[string]bool{}
	for _, r := range rows {
		k := [4]string{r.Host, r.Test, r.Kernel, r.ReadAhead}
		g := byKey[k]
		if g == nil {
			g = &chartGroup{host: r.Host, test: r.Test, kernel: r.Kernel, readAhead: r.ReadAhead, first: r.FirstTime, cells: map[string]*chartCell{}}
			byKey[k] = g
			groups = append(groups, g)
		}
		if r.Generation != 0 && !hasInt(g.gens, r.Generation) {
			g.gens = append(g.gens, r.Generation)
		}
		modeSet[r.Mode] = true
		c := g.cells[r.Mode]
		if c == nil {
			c = &chartCell{}
			g.cells[r.Mode] = c
		}
		c.seconds = append(c.seconds, r.seconds...)
		c.runs += r.Runs
		c.results += r.Results
		c.passed += r.Passed
		c.failed += r.Failed
		if r.Failed > 0 && (c.message == "" || !r.LastTime.Before(c.last)) {
			c.message = r.Message
		}
		if r.LastTime.After(c.last) {
			c.last = r.LastTime
		}
	}
	for _, g := range groups {
		sort.Ints(g.gens)
	}
	return groups, slices.Sorted(maps.Keys(modeSet))
}

func hasInt(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// esc escapes text for XML character data and attribute values. Host text is first made safe
// for a terminal (termsafe.Line), as in every view: XML allows C1 controls and bidirectional
// overrides, and an SVG written to standard output reaches one.
func svgEsc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(termsafe.Line(s))) // writes to a strings.Builder cannot fail
	return b.String()
}

// px formats a coordinate: at most one decimal, stable across runs.
func svgPx(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// niceAxis returns an axis maximum ≥ max and a tick step of 1, 2, 2.5 or 5 × 10^k, about 5 ticks.
func svgNiceAxis(max float64) (top, step float64) {
	if max <= 0 {
		return 1, 0.2
	}
	raw := max / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if step = m * mag; step >= raw {
			break
		}
	}
	top = math.Ceil(max/step-1e-9) * step
	return top, step
}

func svgTickLabel(v, step float64) string {
	dec := 0
	for s := step; s < 1 && dec < 6; s *= 10 {
		dec++
	}
	if math.Abs(step*math.Pow(10, float64(dec))-math.Round(step*math.Pow(10, float64(dec)))) > 1e-9 {
		dec++ // 2.5 × 10^k
	}
	return strconv.FormatFloat(v, 'f', dec, 64)
}

// SVG layout: horizontal bars, one band per host (a heading, then its groups in time order),
// group labels left of the bars, an x axis in seconds with grid lines and ticks at the bottom.
const (
	svgWidth     = 980.0
	svgPlotWidth = 520.0
	svgBarH      = 16.0
	svgBarGap    = 3.0
	svgGroupGap  = 14.0
	svgHostHead  = 30.0
	svgCharW     = 6.6 // average width of a 12px sans-serif character, for label layout
	svgLabelMax  = 48  // runes of a group label before it is shortened (the tooltip has it whole)
)

func WriteSVG(w io.Writer, rows []*Row) error {
	groups, modes := chartGroups(rows)
	colour := map[string]string{}
	for i, m := range modes {
		colour[m] = svgModePalette[i%len(svgModePalette)]
	}
	multiTest := false
	for _, g := range groups {
		multiTest = multiTest || g.test != groups[0].test
	}
	label := func(g *chartGroup) string {
		ra := "read-ahead default"
		if g.readAhead != "" {
			ra = "read-ahead " + g.readAhead + " KB"
		}
		s := dash(g.kernel) + " · " + ra
		if multiTest {
			s = testName(g.test) + " · " + s
		}
		return s
	}
	genLabel := func(g *chartGroup) string {
		switch len(g.gens) {
		case 0:
			return ""
		case 1:
			return "generation " + strconv.Itoa(g.gens[0])
		}
		parts := make([]string, len(g.gens))
		for i, n := range g.gens {
			parts[i] = strconv.Itoa(n)
		}
		return "generations " + strings.Join(parts, ", ")
	}

	// Left margin from the longest label, so labels never run into the bars.
	longest := 0
	for _, g := range groups {
		longest = max(longest, len([]rune(shorten(label(g), svgLabelMax))), len([]rune(genLabel(g))))
	}
	plotX := math.Max(160, math.Min(40+float64(longest)*svgCharW, 400))
	width := plotX + svgPlotWidth + 150 // room for the value labels right of the bars
	width = math.Max(width, svgWidth*0.75)

	maxSec := 0.0
	for _, g := range groups {
		for _, c := range g.cells {
			if m, ok := c.median(); ok {
				maxSec = math.Max(maxSec, m)
			}
		}
	}
	top, step := svgNiceAxis(maxSec)
	scale := svgPlotWidth / top

	var b bytes.Buffer
	legendY := 76.0
	plotTop := legendY + 26
	// Height first: the viewBox must be known before the body.
	y := plotTop
	prevHost := ""
	for _, g := range groups {
		if g.host != prevHost {
			y += svgHostHead
			prevHost = g.host
		}
		y += svgGroupHeight(g) + svgGroupGap
	}
	if len(groups) == 0 {
		y += 40
	}
	plotBottom := y
	height := plotBottom + 52

	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12" role="img">`+"\n",
		svgPx(width), svgPx(height), svgPx(width), svgPx(height))
	fmt.Fprintf(&b, "<title>%s</title>\n", svgEsc("sparkform: model-load time per host"))
	b.WriteString("<defs>\n")
	for i, m := range modes {
		// Failed results with a figure: the mode's colour, hatched with white.
		fmt.Fprintf(&b, `<pattern id="hatch-%d" patternUnits="userSpaceOnUse" width="6" height="6" patternTransform="rotate(45)"><path d="M0 0H6V6H0Z" fill="%s"/><path d="M0 0V6" stroke="#ffffff" stroke-width="3"/></pattern>`+"\n", i, colour[m])
	}
	b.WriteString("</defs>\n")
	fmt.Fprintf(&b, `<rect class="background" x="0" y="0" width="%s" height="%s" fill="#ffffff"/>`+"\n", svgPx(width), svgPx(height))
	fmt.Fprintf(&b, `<text x="20" y="30" font-size="18" font-weight="bold">%s</text>`+"\n", svgEsc("Model load time per host"))
	fmt.Fprintf(&b, `<text x="20" y="50" fill="#555555">%s</text>`+"\n",
		svgEsc("Median seconds until ready, by kernel and read-ahead; one bar per mode. Hatched or grey: failed."))

	// Legend.
	lx := 20.0
	for _, m := range modes {
		fmt.Fprintf(&b, `<rect class="swatch" x="%s" y="%s" width="12" height="12" fill="%s"/>`, svgPx(lx), svgPx(legendY-10), colour[m])
		fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`+"\n", svgPx(lx+16), svgPx(legendY), svgEsc(dash(m)))
		lx += 16 + float64(len([]rune(dash(m))))*svgCharW + 22
	}
	fmt.Fprintf(&b, `<rect class="swatch" x="%s" y="%s" width="12" height="12" fill="%s"/>`, svgPx(lx), svgPx(legendY-10), svgFailedGrey)
	fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`+"\n", svgPx(lx+16), svgPx(legendY), svgEsc("failed, no time"))

	// Grid and axis.
	b.WriteString(`<g class="axis" stroke="#dddddd">` + "\n")
	for v := 0.0; v <= top+step/2; v += step {
		x := plotX + v*scale
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`+"\n", svgPx(x), svgPx(plotTop), svgPx(x), svgPx(plotBottom))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333333"/>`+"\n", svgPx(plotX), svgPx(plotBottom), svgPx(plotX+svgPlotWidth), svgPx(plotBottom))
	for v := 0.0; v <= top+step/2; v += step {
		x := plotX + v*scale
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="#333333"/>`, svgPx(x), svgPx(plotBottom), svgPx(x), svgPx(plotBottom+5))
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">%s</text>`+"\n", svgPx(x), svgPx(plotBottom+18), svgEsc(svgTickLabel(v, step)))
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle" fill="#333333">%s</text>`+"\n",
		svgPx(plotX+svgPlotWidth/2), svgPx(plotBottom+38), svgEsc("seconds (median model load)"))

	if len(groups) == 0 {
		fmt.Fprintf(&b, `<text x="%s" y="%s" fill="#555555">%s</text>`+"\n", svgPx(plotX), svgPx(plotTop+24), svgEsc(NoResults))
	}

	// Bars.
	y = plotTop
	prevHost = ""
	for _, g := range groups {
		if g.host != prevHost {
			y += svgHostHead
			fmt.Fprintf(&b, `<text class="host" x="20" y="%s" font-size="14" font-weight="bold">%s</text>`+"\n", svgPx(y-9), svgEsc(g.host))
			prevHost = g.host
		}
		fmt.Fprintf(&b, `<g class="group">`+"\n")
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`+"\n",
			svgPx(plotX-8), svgPx(y+12), svgEsc(shorten(label(g), svgLabelMax)))
		if gl := genLabel(g); gl != "" {
			fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end" font-size="10" fill="#666666">%s</text>`+"\n", svgPx(plotX-8), svgPx(y+25), svgEsc(gl))
		}
		by := y
		for i, m := range modes {
			c := g.cells[m]
			if c == nil {
				continue
			}
			sec, timed := c.median()
			bw := 3.0 // a failed result without a time still gets a visible grey stub
			fill := svgFailedGrey
			if timed {
				bw = math.Max(sec*scale, 1)
				fill = colour[m]
				if c.failed > 0 {
					fill = fmt.Sprintf("url(#hatch-%d)", i)
				}
			}
			tip := fmt.Sprintf("%s · %s · %s: ", g.host, label(g), dash(m))
			if timed {
				tip += strconv.FormatFloat(sec, 'f', 2, 64) + " s median"
			} else {
				tip += "no time"
			}
			tip += fmt.Sprintf(" (%s in %s", english.Plural(c.runs, "run"), english.Plural(c.results, "result"))
			if c.failed > 0 {
				tip += fmt.Sprintf(", %d failed", c.failed)
				if c.message != "" {
					tip += ": " + c.message
				}
			}
			tip += ")"
			fmt.Fprintf(&b, `<rect class="bar" data-mode="%s" x="%s" y="%s" width="%s" height="%s" fill="%s"`, svgEsc(m), svgPx(plotX), svgPx(by), svgPx(bw), svgPx(svgBarH), fill)
			if c.failed > 0 {
				b.WriteString(` stroke="#b00020" stroke-width="1"`)
			}
			fmt.Fprintf(&b, `><title>%s</title></rect>`+"\n", svgEsc(tip))
			val := ""
			if timed {
				val = strconv.FormatFloat(sec, 'f', 1, 64) + " s"
			}
			if c.failed > 0 {
				if val != "" {
					val += " · "
				}
				if c.passed > 0 {
					val += fmt.Sprintf("failed %d of %d", c.failed, c.results)
				} else {
					val += "failed"
				}
			}
			colourText := "#222222"
			if c.failed > 0 {
				colourText = "#b00020"
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s" fill="%s">%s</text>`+"\n", svgPx(plotX+bw+5), svgPx(by+12), colourText, svgEsc(val))
			by += svgBarH + svgBarGap
		}
		b.WriteString("</g>\n")
		y += svgGroupHeight(g) + svgGroupGap
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// groupHeight is the height of a group's bars, at least the two label lines.
func svgGroupHeight(g *chartGroup) float64 {
	n := float64(len(g.cells))
	return math.Max(n*svgBarH+(n-1)*svgBarGap, 28)
}
