// A page that fails to render says so (and how to go on) instead of going blank.
import { Component, ReactNode } from 'react';

export class ErrorBoundary extends Component<
  { children: ReactNode; resetKey: string },
  { error: Error | null }
> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: Error) {
    return { error };
  }

  override componentDidUpdate(previous: { resetKey: string }) {
    // Navigating elsewhere tries again.
    if (previous.resetKey !== this.props.resetKey && this.state.error) this.setState({ error: null });
  }

  override render() {
    if (!this.state.error) return this.props.children;
    return (
      <div role="alert" className="alert">
        <p>This page failed to show: {this.state.error.message}</p>
        <p>Reload the page, or use the navigation to go elsewhere.</p>
      </div>
    );
  }
}
