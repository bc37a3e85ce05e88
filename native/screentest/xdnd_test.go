package screentest

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jezek/xgb"
	"github.com/jezek/xgb/xproto"
)

// xdnd drops files on an X window the way a file manager does: the XDND protocol (version 5)
// with the file list offered as text/uri-list through the XdndSelection. xdotool cannot drag
// files, so this is the source side, over the X connection the test opens itself.
type xdnd struct {
	t      *testing.T
	c      *xgb.Conn
	root   xproto.Window
	source xproto.Window
	atoms  map[string]xproto.Atom
	events chan xgb.Event // one reader for the connection's life
}

func newXdnd(t *testing.T, display string) *xdnd {
	t.Helper()
	c, err := xgb.NewConnDisplay(display)
	if err != nil {
		t.Fatalf("X connection for the drag source: %v", err)
	}
	t.Cleanup(c.Close)
	scr := xproto.Setup(c).DefaultScreen(c)
	d := &xdnd{t: t, c: c, root: scr.Root, atoms: map[string]xproto.Atom{}, events: make(chan xgb.Event, 64)}
	go func() {
		for {
			ev, err := c.WaitForEvent()
			if ev == nil && err == nil {
				close(d.events)
				return
			}
			if ev != nil {
				d.events <- ev
			}
		}
	}()
	for _, name := range []string{"XdndAware", "XdndEnter", "XdndPosition", "XdndStatus", "XdndDrop",
		"XdndFinished", "XdndLeave", "XdndSelection", "XdndActionCopy", "text/uri-list"} {
		r, err := xproto.InternAtom(c, false, uint16(len(name)), name).Reply()
		if err != nil {
			t.Fatal(err)
		}
		d.atoms[name] = r.Atom
	}
	if d.source, err = xproto.NewWindowId(c); err != nil {
		t.Fatal(err)
	}
	if err := xproto.CreateWindowChecked(c, scr.RootDepth, d.source, scr.Root, 0, 0, 1, 1, 0,
		xproto.WindowClassInputOutput, scr.RootVisual, 0, nil).Check(); err != nil {
		t.Fatal(err)
	}
	return d
}

func (d *xdnd) send(target xproto.Window, msg string, data ...uint32) {
	d.t.Helper()
	for len(data) < 5 {
		data = append(data, 0)
	}
	ev := xproto.ClientMessageEvent{Format: 32, Window: target, Type: d.atoms[msg], Data: xproto.ClientMessageDataUnionData32New(data)}
	if err := xproto.SendEventChecked(d.c, false, target, xproto.EventMaskNoEvent, string(ev.Bytes())).Check(); err != nil {
		d.t.Fatalf("send %s: %v", msg, err)
	}
}

// drop drags the file at path over window at (x, y) (window pixels) and releases it there.
// It answers the target's request for the file list and waits for XdndFinished.
func (d *xdnd) drop(window xproto.Window, x, y int, path string) {
	d.t.Helper()
	uri := (&url.URL{Scheme: "file", Path: path}).String() + "\r\n"
	if err := xproto.SetSelectionOwnerChecked(d.c, d.source, d.atoms["XdndSelection"], xproto.TimeCurrentTime).Check(); err != nil {
		d.t.Fatal(err)
	}
	pos, err := xproto.TranslateCoordinates(d.c, window, d.root, int16(x), int16(y)).Reply()
	if err != nil {
		d.t.Fatal(err)
	}
	src := uint32(d.source)
	d.send(window, "XdndEnter", src, 5<<24, uint32(d.atoms["text/uri-list"]))
	d.send(window, "XdndPosition", src, 0, uint32(pos.DstX)<<16|uint32(uint16(pos.DstY)), xproto.TimeCurrentTime, uint32(d.atoms["XdndActionCopy"]))

	deadline := time.Now().Add(20 * time.Second)
	accepted, dropped := false, false
	for {
		var ev xgb.Event
		select {
		case ev = <-d.events:
		case <-time.After(time.Until(deadline)):
			d.t.Fatalf("drop of %s: no answer from the window (accepted %v, dropped %v)", path, accepted, dropped)
		}
		switch e := ev.(type) {
		case xproto.ClientMessageEvent:
			switch e.Type {
			case d.atoms["XdndStatus"]:
				if e.Data.Data32[1]&1 == 0 {
					d.t.Fatalf("the window refuses the drop of %s", path)
				}
				if !dropped {
					accepted, dropped = true, true
					d.send(window, "XdndDrop", src, 0, xproto.TimeCurrentTime)
				}
			case d.atoms["XdndFinished"]:
				return
			}
		case xproto.SelectionRequestEvent:
			// The window asks for the file list: put it on its property and say so.
			prop := e.Property
			if e.Target == d.atoms["text/uri-list"] {
				xproto.ChangeProperty(d.c, xproto.PropModeReplace, e.Requestor, e.Property, e.Target, 8, uint32(len(uri)), []byte(uri))
			} else {
				prop = xproto.AtomNone
			}
			n := xproto.SelectionNotifyEvent{Time: e.Time, Requestor: e.Requestor, Selection: e.Selection, Target: e.Target, Property: prop}
			if err := xproto.SendEventChecked(d.c, false, e.Requestor, xproto.EventMaskNoEvent, string(n.Bytes())).Check(); err != nil {
				d.t.Fatal(err)
			}
		}
	}
}

// windowID parses xdotool's decimal window id.
func windowID(t *testing.T, s string) xproto.Window {
	var id uint32
	if _, err := fmt.Sscan(s, &id); err != nil {
		t.Fatalf("window id %q: %v", s, err)
	}
	return xproto.Window(id)
}
