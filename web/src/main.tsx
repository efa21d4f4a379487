import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./components/App";
import "./styles.css";
import "./styles-dialogs.css";
import "./styles-rooms.css";
import "./styles-authors.css";
import "./styles-settings.css";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <App />
    </StrictMode>,
  );
}
