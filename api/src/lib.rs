//! Showrunner's HTTP facade (axum): REST and SSE under `/api/v1`, thin over the engine
//! (DESIGN §6). Its contents arrive with the HTTP-facade work; today it holds no routes.
