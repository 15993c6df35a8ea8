//! Showrunner's stock workflows (idea2video, script2video), assembled from the nodes of
//! `showrunner-nodes` with the engine's `WorkflowDef` builder. Its contents arrive with the
//! stock-workflows work; today it holds no workflows.
