package db

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

// TestCPUModel reads the CPU's name from /proc/cpuinfo texts of three
// kinds of machine (abridged from real files).
func TestCPUModel(t *testing.T) {
	for _, tc := range []struct{ name, cpuinfo, want string }{
		{"x86", "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n", "AMD EPYC 7B13"},
		{"arm", "processor\t: 0\nBogoMIPS\t: 38.40\nCPU implementer\t: 0x41\n\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4\n", "BCM2835"},
		{"mips", "system type\t\t: MT7621\ncpu model\t\t: MIPS 1004Kc V2.15\n", "MIPS 1004Kc V2.15"},
		{"none", "processor\t: 0\nBogoMIPS\t: 50.00\n", ""},
		{"empty", "", ""},
	} {
		if got := cpuModel(strings.NewReader(tc.cpuinfo)); got != tc.want {
			t.Errorf("%s: cpuModel = %q, want %q", tc.name, got, tc.want)
		}
	}
}

// provenanceOf reads the provenance columns of every run, by config_hash.
func provenanceOf(t *testing.T, d *DB) map[string][2]sql.NullString {
	t.Helper()
	rows, err := d.r.Query("SELECT config_hash, blas_core, cpu_model FROM runs")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][2]sql.NullString{}
	for rows.Next() {
		var k string
		var p [2]sql.NullString
		if err := rows.Scan(&k, &p[0], &p[1]); err != nil {
			t.Fatal(err)
		}
		out[k] = p
	}
	return out
}

// TestProvenanceMachine: a claimed run records the BLAS core type the
// claimer gives and this machine's CPU model (issue 13 section 3), and a
// merge carries both.
func TestProvenanceMachine(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(filepath.Join(dir, "a.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := testGrid("e", 2)
	if _, err := a.AddGrid(ctx, g, false); err != nil {
		t.Fatal(err)
	}
	c1, err := a.Claim(ctx, "e", ClaimOptions{Worker: "w", BLASCore: "Haswell"})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := a.Claim(ctx, "e", ClaimOptions{Worker: "w"})
	if err != nil {
		t.Fatal(err)
	}
	cpu := sql.NullString{String: CurrentProvenance().CPUModel, Valid: CurrentProvenance().CPUModel != ""}
	check := func(what string, d *DB) {
		t.Helper()
		got := provenanceOf(t, d)
		want := map[string][2]sql.NullString{
			c1.Key: {{String: "Haswell", Valid: true}, cpu},
			c2.Key: {{}, cpu},
		}
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s: run %s: blas_core, cpu_model = %v, want %v", what, k[:8], got[k], w)
			}
		}
	}
	check("claimed", a)
	a.Close()
	out := mustOpen(t)
	if _, err := out.Merge(ctx, filepath.Join(dir, "a.db")); err != nil {
		t.Fatal(err)
	}
	check("merged", out)
}
