package db_test

import (
	"context"
	"math"
	"reflect"
	"testing"

	"cliplab/internal/db"
	"cliplab/internal/report/reporttest"
)

// TestReportSummariesAndCurvesOf: ReportSummaries gives RunSummaries' rows
// (clip_fraction and max_grad_norm from one pass over the steps), and
// ReportCurvesOf over every run gives ReportCurves's points, over a part
// only the points of those runs, in the same buckets when whole settings
// are asked for.
func TestReportSummariesAndCurvesOf(t *testing.T) {
	path := reporttest.TempDB(t, "demo", reporttest.Grid([]string{"mlp2"}, []float64{0.1, 3}, 3, 40))
	d, err := db.Open(path, db.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	want, err := d.RunSummaries(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.ReportSummaries(ctx, "demo")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) != 30 {
		t.Fatalf("%d rows, want %d (30)", len(got), len(want))
	}
	nan := func(r db.RunSummary) db.RunSummary { // NaN != NaN: compare with NaN as -1
		v := reflect.ValueOf(&r).Elem()
		for i := range v.NumField() {
			if f := v.Field(i); f.Kind() == reflect.Float64 && math.IsNaN(f.Float()) {
				f.SetFloat(-1)
			}
		}
		return r
	}
	frac := 0
	for i := range got {
		if !reflect.DeepEqual(nan(got[i]), nan(want[i])) {
			t.Errorf("run %d:\n got %+v\nwant %+v", want[i].ID, got[i], want[i])
		}
		if got[i].ClipFraction > 0 {
			frac++
		}
	}
	if frac == 0 {
		t.Errorf("no run clipped: the test compares nothing")
	}
	all, err := d.ReportCurves(ctx, "demo", 7)
	if err != nil {
		t.Fatal(err)
	}
	var ids, part []int64
	settings := map[string]bool{}
	for i, r := range want {
		ids = append(ids, r.ID)
		if i < 9 || settings[r.SettingKey] {
			settings[r.SettingKey] = true
		}
	}
	for _, r := range want {
		if settings[r.SettingKey] {
			part = append(part, r.ID)
		}
	}
	of, err := d.ReportCurvesOf(ctx, "demo", ids, 7)
	if err != nil {
		t.Fatal(err)
	}
	eq := func(a, b []db.CurvePoint) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			x, y := a[i], b[i]
			if x.RunID != y.RunID || x.Bucket != y.Bucket || x.Step != y.Step || x.NonFinite != y.NonFinite ||
				!(x.Loss == y.Loss || math.IsNaN(x.Loss) && math.IsNaN(y.Loss)) || !(x.GradNorm == y.GradNorm || math.IsNaN(x.GradNorm) && math.IsNaN(y.GradNorm)) {
				return false
			}
		}
		return true
	}
	if !eq(of, all) || len(all) == 0 {
		t.Errorf("ReportCurvesOf(every run): %d points, ReportCurves %d", len(of), len(all))
	}
	sub, err := d.ReportCurvesOf(ctx, "demo", part, 7)
	if err != nil {
		t.Fatal(err)
	}
	var wantSub []db.CurvePoint
	in := map[int64]bool{}
	for _, id := range part {
		in[id] = true
	}
	for _, p := range all {
		if in[p.RunID] {
			wantSub = append(wantSub, p)
		}
	}
	if !eq(sub, wantSub) || len(sub) == 0 || len(sub) == len(all) {
		t.Errorf("ReportCurvesOf(%d runs): %d points, want %d of %d", len(part), len(sub), len(wantSub), len(all))
	}
	if none, err := d.ReportCurvesOf(ctx, "demo", nil, 7); err != nil || none != nil {
		t.Errorf("no ids: %v, %v", none, err)
	}
}
