package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"latentstudio/studio/protocol"
)

// BurnParams configure the burn kind.
type BurnParams struct {
	MS    float64 `json:"ms"`    // CPU time per step, milliseconds (≤ 10 000)
	Steps int     `json:"steps"` // steps (default 1, ≤ 1000), one progress report each
}

// Burn is a test kind that burns a fixed amount of CPU time: the load test, the fault test
// and the browser test use it as a stand-in for engine work with a known cost. The server
// registers it only with --test-jobs.
func Burn(ctx context.Context, raw json.RawMessage, report Report) (Output, error) {
	var p BurnParams
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &p); err != nil {
			return Output{}, protocol.Errorf(protocol.BadInput, "burn params: %v", err)
		}
	}
	if p.Steps <= 0 {
		p.Steps = 1
	}
	if p.MS < 0 || p.MS > 10000 || p.Steps > 1000 {
		return Output{}, protocol.Errorf(protocol.BadInput, "burn needs 0 ≤ ms ≤ 10000 and steps ≤ 1000")
	}
	per := time.Duration(p.MS * float64(time.Millisecond))
	var sink uint64
	for step := range p.Steps {
		end := time.Now().Add(per)
		for x := uint64(step); time.Now().Before(end); x++ {
			for range 2000 { // spin a while between clock reads
				x = x*6364136223846793005 + 1442695040888963407
			}
			sink += x
			if ctx.Err() != nil {
				return Output{}, ctx.Err()
			}
		}
		report(float64(step+1)*100/float64(p.Steps), fmt.Sprintf("step %d/%d", step+1, p.Steps))
	}
	return Output{Data: map[string]any{"steps": p.Steps, "ms": p.MS, "check": sink & 0xff}}, nil
}
