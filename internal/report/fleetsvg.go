package report

import (
	"bytes"
	"fmt"
	"github.com/sparkform/sparkform/internal/english"
	"io"
	"math"
)

// Fleet chart layout: one row per configuration, a dot per host (the median of its results
// there), the fleet median as a bar, max_seconds as a dashed red line, failed hosts as red
// crosses (at their figure, or past the axis when they have none) with the reason beside the
// row; the seconds axis at the top and the bottom. 100 hosts in 8 configurations stay 8 rows.
const (
	fleetRowH      = 26.0
	fleetPlotW     = 480.0
	fleetNoteW     = 230.0
	fleetTop       = 92.0 // top of the first row, below the title, legend and top axis
	fleetLabelMax  = 64   // runes of a row label before it is shortened (its tooltip has it whole)
	fleetDotColour = "#0072B2"
	fleetFailed    = "#D55E00"
)

// WriteFleetSVG draws the fleet summary.
func WriteFleetSVG(w io.Writer, ss []*Summary) error {
	longest := 0
	hosts := map[string]bool{}
	maxSec := 0.0
	for _, s := range ss {
		longest = max(longest, len([]rune(shorten(s.Label(), fleetLabelMax))))
		for _, v := range s.Values {
			hosts[v.Host] = true
			if v.Seconds != nil {
				maxSec = math.Max(maxSec, *v.Seconds)
			}
		}
		if s.Limit != nil {
			maxSec = math.Max(maxSec, *s.Limit)
		}
	}
	plotX := math.Max(180, math.Min(24+float64(longest)*svgCharW, 460))
	width := plotX + fleetPlotW + fleetNoteW
	top, step := svgNiceAxis(maxSec)
	scale := fleetPlotW / top
	xOf := func(sec float64) float64 { return plotX + sec*scale }
	rows := float64(max(len(ss), 1))
	bottom := fleetTop + rows*fleetRowH
	height := bottom + 48

	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="sans-serif" font-size="12" role="img">`+"\n",
		svgPx(width), svgPx(height), svgPx(width), svgPx(height))
	fmt.Fprintf(&b, "<title>%s</title>\n", svgEsc("sparkform: model-load time by configuration across the fleet"))
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	fmt.Fprintf(&b, `<text x="16" y="24" font-size="16" font-weight="bold">%s</text>`+"\n", svgEsc("Model-load time by configuration"))
	fmt.Fprintf(&b, `<text x="16" y="44" fill="#444">%s</text>`+"\n",
		svgEsc(fmt.Sprintf("%s, %s; a dot per host (median of its results), fleet median as a bar", english.Plural(len(hosts), "host"), english.Plural(len(ss), "configuration"))))
	// legend
	lx := 16.0
	fmt.Fprintf(&b, `<circle cx="%s" cy="60" r="3" fill="%s" fill-opacity="0.6"/><text x="%s" y="64">host</text>`+"\n", svgPx(lx+4), fleetDotColour, svgPx(lx+12))
	lx += 56
	fmt.Fprintf(&b, `<line x1="%s" y1="53" x2="%s" y2="67" stroke="#000" stroke-width="2"/><text x="%s" y="64">median</text>`+"\n", svgPx(lx+4), svgPx(lx+4), svgPx(lx+12))
	lx += 70
	fmt.Fprintf(&b, `<line x1="%s" y1="53" x2="%s" y2="67" stroke="%s" stroke-width="1.5" stroke-dasharray="3 2"/><text x="%s" y="64">max_seconds</text>`+"\n", svgPx(lx+4), svgPx(lx+4), fleetFailed, svgPx(lx+12))
	lx += 100
	fmt.Fprintf(&b, `<text x="%s" y="64" fill="%s" font-weight="bold">×</text><text x="%s" y="64">failed (reason at the right)</text>`+"\n", svgPx(lx), fleetFailed, svgPx(lx+12))

	// grid and both axes
	for v := 0.0; v <= top+1e-9; v += step {
		x := svgPx(xOf(v))
		fmt.Fprintf(&b, `<line class="grid" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#e3e3e3"/>`+"\n", x, svgPx(fleetTop-6), x, svgPx(bottom))
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" text-anchor="middle" fill="#444">%s</text>`+"\n", x, svgPx(fleetTop-10), svgTickLabel(v, step))
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%s" text-anchor="middle" fill="#444">%s</text>`+"\n", x, svgPx(bottom+16), svgTickLabel(v, step))
	}
	fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">seconds to load (lower is better)</text>`+"\n", svgPx(plotX+fleetPlotW/2), svgPx(bottom+36))
	if len(ss) == 0 {
		fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`+"\n", svgPx(plotX), svgPx(fleetTop+17), svgEsc("No smoke-test results yet."))
	}

	for i, s := range ss {
		y := fleetTop + float64(i)*fleetRowH
		mid := y + fleetRowH/2
		fmt.Fprintf(&b, `<g class="config"><title>%s</title>`+"\n", svgEsc(fmt.Sprintf("%s: %s, median %s s, min %s s, max %s s", s.Label(), english.Plural(s.Hosts, "host"), secs(s.Median), secs(s.Min), secs(s.Max))))
		if i%2 == 0 {
			fmt.Fprintf(&b, `<rect x="0" y="%s" width="%s" height="%s" fill="#f5f5f5"/>`+"\n", svgPx(y), svgPx(width), svgPx(fleetRowH))
		}
		fmt.Fprintf(&b, `<text class="label" x="%s" y="%s" text-anchor="end">%s</text>`+"\n", svgPx(plotX-10), svgPx(mid+4), svgEsc(shorten(s.Label(), fleetLabelMax)))
		if s.Limit != nil {
			x := svgPx(xOf(*s.Limit))
			fmt.Fprintf(&b, `<line class="limit" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="1.5" stroke-dasharray="3 2"><title>max_seconds %s</title></line>`+"\n",
				x, svgPx(y+2), x, svgPx(y+fleetRowH-2), fleetFailed, svgEsc(secs(s.Limit)))
		}
		for k, v := range s.Values {
			jitter := float64((k*37)%15) - 7 // deterministic spread so 100 dots do not hide each other
			title := v.Host + ": " + secs(v.Seconds) + " s"
			if v.Failed {
				title = v.Host + ": failed: " + v.Reason
				x := xOf(top) + 10
				if v.Seconds != nil {
					x = xOf(*v.Seconds)
				}
				fmt.Fprintf(&b, `<text class="failed" x="%s" y="%s" text-anchor="middle" fill="%s" font-weight="bold">×<title>%s</title></text>`+"\n",
					svgPx(x), svgPx(mid+4+jitter/2), fleetFailed, svgEsc(title))
				continue
			}
			if v.Seconds == nil {
				continue
			}
			fmt.Fprintf(&b, `<circle class="host" cx="%s" cy="%s" r="2.6" fill="%s" fill-opacity="0.55"><title>%s</title></circle>`+"\n",
				svgPx(xOf(*v.Seconds)), svgPx(mid+jitter/1.4), fleetDotColour, svgEsc(title))
		}
		if s.Median != nil {
			x := svgPx(xOf(*s.Median))
			fmt.Fprintf(&b, `<line class="median" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#000" stroke-width="2.5"/>`+"\n", x, svgPx(y+3), x, svgPx(y+fleetRowH-3))
		}
		note := fmt.Sprintf("%s · median %s s", english.Plural(s.Hosts, "host"), secs(s.Median))
		colour := "#444"
		if s.FailedHosts > 0 {
			note = fmt.Sprintf("%d of %d failed: %s", s.FailedHosts, s.Hosts, s.Reason)
			colour = fleetFailed
		}
		fmt.Fprintf(&b, `<text class="note" x="%s" y="%s" fill="%s">%s<title>%s</title></text>`+"\n",
			svgPx(plotX+fleetPlotW+24), svgPx(mid+4), colour, svgEsc(shorten(note, 34)), svgEsc(note))
		fmt.Fprintf(&b, "</g>\n")
	}
	fmt.Fprintf(&b, "</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}
