package clipalgo

// registry holds every declared method, in the order reports list them. A
// new method is one file with its declaration and Clipper, and one line here.
var registry []*Method

func init() {
	registry = []*Method{
		&noneMethod,
		&valueMethod,
		&normMethod,
		&layerNormMethod,
		&blockRMSMethod,
		&agcMethod,
		&autoClipMethod,
		&zClipMethod,
		&adaGCMethod,
		&dpFlatMethod,
		&dpPerLayerMethod,
		&dpAutomaticMethod,
		&dpQuantileMethod,
	}
}
