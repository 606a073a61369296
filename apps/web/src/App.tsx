// Routes of the dashboard (DASHBOARD.md §6): the login and register pages stand alone, the rest sit in the shell.
import { Redirect, Route, Switch } from 'wouter';
import { Shell } from './components/Shell';
import { LoginPage, RegisterPage } from './pages/Auth';
import { DashboardPage } from './pages/Dashboard';
import { ScansPage } from './pages/Scans';
import { ScanFormPage } from './pages/ScanForm';
import { ScanPage } from './pages/Scan';
import { RunPage } from './pages/Run';
import { ReportPage, ReportsPage } from './pages/Reports';
import { HostPage, HostsPage } from './pages/Hosts';
import { ClientPage, ClientsPage } from './pages/Clients';
import { TokensPage } from './pages/Tokens';
import { WebhooksPage } from './pages/Webhooks';
import { ProjectsPage } from './pages/Projects';
import { QuickRunPage } from './pages/QuickRun';
import { PageTitle } from './components/ui';

export function App() {
  return (
    <Switch>
      <Route path="/auth/login" component={LoginPage} />
      <Route path="/auth/register" component={RegisterPage} />
      <Route>
        <Shell>
          <Switch>
            <Route path="/">
              <Redirect to="/dashboard" replace />
            </Route>
            <Route path="/dashboard" component={DashboardPage} />
            <Route path="/scans" component={ScansPage} />
            <Route path="/scans/new" component={ScanFormPage} />
            <Route path="/scans/:id/edit" component={ScanFormPage} />
            <Route path="/scans/:id" component={ScanPage} />
            <Route path="/runs/:resultId" component={RunPage} />
            <Route path="/reports" component={ReportsPage} />
            <Route path="/reports/:id" component={ReportPage} />
            <Route path="/hosts" component={HostsPage} />
            <Route path="/hosts/:address" component={HostPage} />
            <Route path="/clients" component={ClientsPage} />
            <Route path="/clients/:clientId" component={ClientPage} />
            <Route path="/tokens" component={TokensPage} />
            <Route path="/webhooks" component={WebhooksPage} />
            <Route path="/projects" component={ProjectsPage} />
            <Route path="/nmap" component={QuickRunPage} />
            <Route>
              <PageTitle text="Page not found" />
              <p>There is no page here. Use the navigation to find what you are looking for.</p>
            </Route>
          </Switch>
        </Shell>
      </Route>
    </Switch>
  );
}
