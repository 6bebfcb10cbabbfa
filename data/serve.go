package data

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Handler serves src as a datasets-server subset for dataset: GET /size and
// GET /rows with the JSON shapes of docs/hub.md#datasets-server, so validators of a private
// competition can read a local corpus through [Server] (point
// $HF_DATASETS_SERVER at it). /rows takes offset (default 0) and length
// (default and maximum 100); bad parameters answer 422 with cause_exception
// "InvalidParameter", an unknown dataset or config 404.
func Handler(src Source, dataset string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /size", func(w http.ResponseWriter, r *http.Request) {
		if !checkDataset(w, r, dataset) {
			return
		}
		splits, err := src.Splits(r.Context())
		if err != nil {
			serveError(w, http.StatusInternalServerError, err.Error(), "UnexpectedError")
			return
		}
		var total int64
		configs := []map[string]any{}
		sp := []map[string]any{}
		for _, s := range splits {
			total += s.NumRows
			configs = append(configs, map[string]any{"dataset": dataset, "config": s.Config,
				"num_bytes_original_files": nil, "num_bytes_parquet_files": 0, "num_bytes_memory": 0,
				"num_rows": s.NumRows, "num_columns": 1})
			sp = append(sp, map[string]any{"dataset": dataset, "config": s.Config, "split": s.Split,
				"num_bytes_parquet_files": 0, "num_bytes_memory": 0, "num_rows": s.NumRows, "num_columns": 1})
		}
		serveJSON(w, http.StatusOK, map[string]any{
			"size": map[string]any{
				"dataset": map[string]any{"dataset": dataset, "num_bytes_original_files": nil,
					"num_bytes_parquet_files": 0, "num_bytes_memory": 0, "num_rows": total},
				"configs": configs,
				"splits":  sp,
			},
			"pending": []any{}, "failed": []any{}, "partial": false,
		})
	})
	mux.HandleFunc("GET /rows", func(w http.ResponseWriter, r *http.Request) {
		if !checkDataset(w, r, dataset) {
			return
		}
		q := r.URL.Query()
		offset, length := int64(0), MaxPageRows
		if v := q.Get("offset"); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				serveError(w, http.StatusUnprocessableEntity, "Parameter 'offset' must be positive", "InvalidParameter")
				return
			}
			offset = n
		}
		if v := q.Get("length"); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > MaxPageRows {
				serveError(w, http.StatusUnprocessableEntity, "Parameter 'length' must be positive and less than 100", "InvalidParameter")
				return
			}
			length = n
		}
		config, split := q.Get("config"), q.Get("split")
		splits, err := src.Splits(r.Context())
		if err != nil {
			serveError(w, http.StatusInternalServerError, err.Error(), "UnexpectedError")
			return
		}
		total := int64(-1)
		for _, s := range splits {
			if s.Config == config && s.Split == split {
				total = s.NumRows
			}
		}
		if total < 0 {
			serveError(w, http.StatusNotFound, "Not found.", "SplitNotFoundError")
			return
		}
		var rows []Row
		if length > 0 {
			rows, err = src.Rows(r.Context(), Page{Config: config, Split: split, Offset: offset, Length: length})
			if err != nil && !errors.Is(err, ErrUnknownSplit) {
				serveError(w, http.StatusInternalServerError, err.Error(), "UnexpectedError")
				return
			}
		}
		items := make([]map[string]any, 0, len(rows))
		for _, row := range rows {
			items = append(items, map[string]any{"row_idx": row.Index, "row": map[string]any{"text": row.Text}, "truncated_cells": []string{}})
		}
		serveJSON(w, http.StatusOK, map[string]any{
			"features": []map[string]any{
				{"feature_idx": 0, "name": "text", "type": map[string]string{"dtype": "string", "_type": "Value"}},
			},
			"rows":              items,
			"num_rows_total":    total,
			"num_rows_per_page": MaxPageRows,
			"partial":           false,
		})
	})
	return mux
}

func checkDataset(w http.ResponseWriter, r *http.Request, dataset string) bool {
	if r.URL.Query().Get("dataset") != dataset {
		serveError(w, http.StatusNotFound, "The dataset does not exist, or is not accessible without authentication (private or gated). Please check the spelling of the dataset name or retry with authentication.", "DatasetNotFoundError")
		return false
	}
	return true
}

func serveError(w http.ResponseWriter, code int, msg, cause string) {
	w.Header().Set("X-Error-Code", cause)
	serveJSON(w, code, map[string]string{"error": msg})
}

func serveJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}
