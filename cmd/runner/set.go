package main

import "strings"

// setList collects the -set flags of run and plan, in order
// (grid.LoadSet applies them).
type setList []string

const setUsage = "override `FIELD=VALUE` of the experiment file before it is read, e.g. train.epochs=2, grid.lr=0.1,0.3 (a comma makes a list), archs.mlp2.hidden=[64,64], grid.clip[1].threshold=0.5; repeatable"

func (s *setList) String() string { return strings.Join(*s, " ") }

func (s *setList) Set(v string) error {
	*s = append(*s, v)
	return nil
}
