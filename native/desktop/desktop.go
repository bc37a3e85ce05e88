// Package desktop holds the desktop app's parts that need no window: the command line, the
// studio server it talks to (started in-process, or a remote one), the choice of project, the
// recent-projects list and MIDI export. The Ebiten window lives in the command (native/),
// because Ebiten opens the window system as soon as a program that links it starts.
package desktop

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"latentstudio/web/music"
)

// Options are the desktop command's flags.
type Options struct {
	Server    string // remote studio server; "" starts one in-process
	Token     string
	Project   string
	New       bool
	Data      string // local server's data directory
	Engine    string
	Weights   string
	ExportDir string
	Silent    bool
	Recent    bool // list the recent projects and exit
	Verbose   bool
	Width     int // window size in logical pixels (--size)
	Height    int
}

// ParseFlags reads the command line.
func ParseFlags(args []string, stderr io.Writer) (Options, error) {
	var o Options
	fs := flag.NewFlagSet("studio-desktop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.Server, "server", os.Getenv("STUDIO_SERVER"), "studio server to use, e.g. http://gpu-box:7380 (default: start one in this app); env STUDIO_SERVER")
	fs.StringVar(&o.Token, "token", os.Getenv("STUDIO_TOKEN"), "token of the --server (or pass the URL it printed, with ?token=); env STUDIO_TOKEN")
	fs.StringVar(&o.Project, "project", "", "project id to open (default: the most recent one)")
	fs.BoolVar(&o.New, "new", false, "start a new project")
	fs.StringVar(&o.Data, "data", "", "data directory of the local server (default $XDG_DATA_HOME/latent-studio, as `studio serve`)")
	fs.StringVar(&o.Engine, "engine", envOr("STUDIO_ENGINE", "auto"), "engine of the local server: auto, cuda or cpu; env STUDIO_ENGINE")
	fs.StringVar(&o.Weights, "weights", "", "piano-roll model of the local server (default "+music.ShippedWeights+" beside the program, in the working directory or above)")
	fs.StringVar(&o.ExportDir, "export-dir", "", "where exported MIDI files go (default ~/Music/Latent Studio)")
	fs.BoolVar(&o.Silent, "silent", false, "no sound (chosen by itself when no audio device opens)")
	fs.BoolVar(&o.Recent, "recent", false, "list the recent projects and exit")
	fs.BoolVar(&o.Verbose, "v", false, "log the local server's requests and jobs")
	size := fs.String("size", "1280x800", "window size, WIDTHxHEIGHT in logical pixels")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if _, err := fmt.Sscanf(*size, "%dx%d", &o.Width, &o.Height); err != nil || o.Width < 640 || o.Height < 480 || o.Width > 16384 || o.Height > 16384 {
		return o, fmt.Errorf("--size %q: want WIDTHxHEIGHT, at least 640x480", *size)
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q (flags only; -h lists them)", fs.Arg(0))
	}
	if o.Server != "" && (o.Data != "" || o.Weights != "") {
		return o, errors.New("--data and --weights belong to the local server; leave them out with --server")
	}
	if o.New && o.Project != "" {
		return o, errors.New("--new and --project exclude each other")
	}
	return o, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// ErrNoServer says the --server named does not answer or refuses us.
var ErrNoServer = errors.New("studio server not reachable")

// Setup is what the window needs: a running server, the project to open and where files go.
type Setup struct {
	Backend   *Backend
	Project   string
	Name      string
	ExportDir string // exported MIDI files (ExportFile)
	Offline   string // the client's offline copies of edits not yet saved on the server
	Recent    []Recent
	Warnings  []string // said to the user, nothing stopped
	Width     int      // window size, logical pixels
	Height    int
}

// Prepare starts (or reaches) the server, picks the project and records it as the most recent.
// Close the Backend when the window is gone.
func Prepare(ctx context.Context, o Options, out io.Writer) (*Setup, error) {
	cfgDir, err := ConfigDir()
	if err != nil {
		return nil, err
	}
	s := &Setup{ExportDir: o.ExportDir, Offline: filepath.Join(cfgDir, "offline"), Width: o.Width, Height: o.Height}
	if s.ExportDir == "" {
		if s.ExportDir, err = DefaultExportDir(); err != nil {
			return nil, err
		}
	}
	recentPath := filepath.Join(cfgDir, "recent.json")
	recent, err := LoadRecent(recentPath)
	if err != nil {
		s.Warnings = append(s.Warnings, err.Error()) // an unreadable list must not keep the app from starting
	}
	var b *Backend
	if o.Server != "" {
		if b, err = ConnectRemote(ctx, o.Server, o.Token); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrNoServer, err)
		}
	} else {
		level := slog.LevelWarn
		if o.Verbose {
			level = slog.LevelInfo
		}
		addInpaintKind(o.Weights)
		log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
		if b, err = StartLocal(ctx, o.Data, o.Engine, out, log); err != nil {
			return nil, err
		}
	}
	id, name, err := PickProject(ctx, b, &recent, o.Project, o.New)
	if err != nil {
		b.Close()
		return nil, err
	}
	s.Backend, s.Project, s.Name = b, id, name
	recent.Add(Recent{Place: b.Place, ID: id, Name: name, Opened: time.Now().UTC()})
	if err := recent.Save(recentPath); err != nil {
		s.Warnings = append(s.Warnings, "recent projects not saved: "+err.Error())
	}
	s.Recent = recent.At(b.Place)
	return s, nil
}

// ListRecent prints the recent-projects list (studio-desktop --recent).
func ListRecent(w io.Writer) error {
	dir, err := ConfigDir()
	if err != nil {
		return err
	}
	l, err := LoadRecent(filepath.Join(dir, "recent.json"))
	if err != nil {
		return err
	}
	if len(l.Projects) == 0 {
		fmt.Fprintln(w, "no recent projects")
		return nil
	}
	for _, r := range l.Projects {
		fmt.Fprintf(w, "%s  %-24s  %-30q  %s\n", r.Opened.Local().Format("2006-01-02 15:04"), r.ID, r.Name, r.Place)
	}
	return nil
}

// Remember records a project as the most recently opened one of place (the window's project
// picker calls it on a switch) and returns that place's list, newest first.
func Remember(place, id, name string) ([]Recent, error) {
	dir, err := ConfigDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "recent.json")
	l, err := LoadRecent(path)
	if err != nil && !errors.Is(err, ErrRecentCorrupt) {
		return nil, err
	}
	l.Add(Recent{Place: place, ID: id, Name: name, Opened: time.Now().UTC()})
	return l.At(place), l.Save(path)
}
