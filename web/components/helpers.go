package components

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

func initial(name string) string {
	r, _ := utf8.DecodeRuneInString(strings.TrimSpace(name))
	if r == utf8.RuneError {
		return "?"
	}
	return strings.ToUpper(string(r))
}

// current picks the job a progress bar shows: the running one, else the first queued, else
// the most recent finished one.
func current(jobs []Job) Job {
	for _, s := range []string{"running", "queued"} {
		for _, j := range jobs {
			if j.State == s {
				return j
			}
		}
	}
	if len(jobs) > 0 {
		return jobs[len(jobs)-1]
	}
	return Job{}
}

func jobText(j Job) string {
	if j.ID == "" {
		return "No job running"
	}
	s := j.Kind + ": " + j.State
	if j.State == "running" {
		s += " " + strconv.Itoa(j.Percent) + "%"
		if j.Stage != "" {
			s += " · " + j.Stage
		}
		if j.ETA != "" {
			s += " · " + j.ETA + " left"
		}
	}
	return s
}
